"""`python -m fusionrt_fleet`: the same as the `fusionrt-fleet` command."""

from fusionrt_fleet.cli import main

raise SystemExit(main())

//! `fusionrt models`: lists, verifies and builds the installed models.

use crate::commands::detect::{classify, load_camera_config};
use crate::exit::bad_input;
use clap::{Args, Subcommand};
use fusionrt_camera::card::{InstalledModel, model_dirs};
use fusionrt_camera::config::Provider;
use fusionrt_camera::detector::{engine_cached, engine_prefix, try_provider};
use std::path::PathBuf;

/// Arguments of `fusionrt models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Folder of model cards (default: `FUSIONRT_MODELS`, else `models/` found upward).
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: ModelsCommand,
}

/// What to do with the models.
#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Show the installed model cards.
    List,
    /// Check every model's SHA-256 against its card, then load it in ONNX Runtime and check
    /// its input shape.
    Verify,
    /// Build the TensorRT engine of a model ahead of time into the engine cache, so that a
    /// node loads it at start instead of building it for minutes.
    BuildEngine {
        /// Model name or path.
        #[arg(long, default_value = "nanodet")]
        model: String,
        /// Camera config YAML (TensorRT options: fp16, engine cache directory, workspace, device).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn cards(dir: Option<&std::path::Path>) -> anyhow::Result<Vec<PathBuf>> {
    let mut cards = Vec::new();
    for d in model_dirs(dir) {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "yaml") {
                cards.push(p);
            }
        }
    }
    cards.sort();
    if cards.is_empty() {
        return Err(bad_input(anyhow::anyhow!(
            "no model cards found (set --models-dir or FUSIONRT_MODELS)"
        )));
    }
    Ok(cards)
}

impl ModelsArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        let dir = self.models_dir.as_deref();
        match self.command {
            ModelsCommand::List => {
                for path in cards(dir)? {
                    match InstalledModel::load(&path) {
                        Ok(m) => println!(
                            "{:<12} {:?} input {}x{} {:?}, {} classes, {} (sha256 {}…)",
                            m.card.name,
                            m.card.decoder,
                            m.card.input.width,
                            m.card.input.height,
                            m.card.input.channel_order,
                            m.card.classes.len(),
                            m.model_path.display(),
                            &m.card.sha256[..12]
                        ),
                        Err(e) => println!("{}: invalid card: {e}", path.display()),
                    }
                }
                Ok(())
            }
            ModelsCommand::Verify => {
                let mut failed = 0;
                for path in cards(dir)? {
                    let mut cfg = fusionrt_camera::CameraConfig {
                        model: path.display().to_string(),
                        tiles: 0,
                        ..Default::default()
                    };
                    cfg.models_dir = dir.map(PathBuf::from);
                    match fusionrt_camera::CameraDetector::new(&cfg) {
                        Ok(d) => println!(
                            "ok      {} ({}, sha256 {}…, loads on {})",
                            d.model().card.name,
                            d.model().model_path.display(),
                            &d.model().card.sha256[..12],
                            d.provider().name()
                        ),
                        Err(e) => {
                            failed += 1;
                            println!("FAILED  {}: {e}", path.display());
                        }
                    }
                }
                if failed > 0 {
                    return Err(bad_input(anyhow::anyhow!(
                        "{failed} model(s) failed verification"
                    )));
                }
                Ok(())
            }
            ModelsCommand::BuildEngine { model, config } => {
                let mut cfg = load_camera_config(config.as_deref())?;
                cfg.model = model;
                cfg.models_dir = dir.map(PathBuf::from).or(cfg.models_dir);
                let card = fusionrt_camera::card::find_card(&cfg.model, cfg.models_dir.as_deref())
                    .map_err(classify)?;
                let installed = InstalledModel::load(&card).map_err(classify)?;
                let bytes = installed.read_verified().map_err(classify)?;
                let env = fusionrt_camera::ortlib::environment(cfg.onnxruntime_path.as_deref())
                    .map_err(classify)?;
                std::fs::create_dir_all(&cfg.tensorrt.engine_cache_dir)?;
                let start = std::time::Instant::now();
                try_provider(env, &cfg, &installed, &bytes, Provider::Tensorrt, true).map_err(
                    |reason| anyhow::anyhow!("cannot build a TensorRT engine: {reason}"),
                )?;
                if !engine_cached(&cfg.tensorrt.engine_cache_dir, &installed) {
                    anyhow::bail!(
                        "TensorRT built no engine named {}* in {}",
                        engine_prefix(&installed),
                        cfg.tensorrt.engine_cache_dir.display()
                    );
                }
                println!(
                    "engine for {} built in {:.0} s into {}",
                    installed.card.name,
                    start.elapsed().as_secs_f64(),
                    cfg.tensorrt.engine_cache_dir.display()
                );
                Ok(())
            }
        }
    }
}

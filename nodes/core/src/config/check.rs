//! One validation helper for every config section: a [`Check`] collects what is wrong, each
//! issue named by its key path, so the loader can point at the key's line and column.
//!
//! A section implements [`Validate`] with a few lines per key:
//! `c.positive("cluster_cell_m", self.cluster_cell_m, 10.0)`.

use std::fmt::Display;

/// Something wrong with one value.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    /// Key path, e.g. `lidar.cluster_cell_m`.
    pub key: String,
    /// What is wrong, with the value.
    pub message: String,
}

/// A config section that can check its values.
pub trait Validate {
    /// Records every value that cannot work.
    fn validate(&self, c: &mut Check);
}

/// Collects [`Issue`]s under a key prefix.
#[derive(Debug, Default)]
pub struct Check {
    prefix: String,
    issues: Vec<Issue>,
}

impl Check {
    /// An empty check at the root of the tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The issues found, in the order they were checked.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The first issue, if any.
    pub fn into_first(self) -> Option<Issue> {
        self.issues.into_iter().next()
    }

    /// Checks a sub-section whose keys sit under `name`.
    pub fn section<T: Validate + ?Sized>(&mut self, name: &str, value: &T) {
        let outer = self.prefix.clone();
        self.prefix = self.key(name);
        value.validate(self);
        self.prefix = outer;
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// Records an issue with `name` unless `ok`.
    pub fn rule(&mut self, ok: bool, name: &str, message: impl FnOnce() -> String) {
        if !ok {
            let key = self.key(name);
            self.issues.push(Issue {
                key,
                message: message(),
            });
        }
    }

    /// A finite number in `(0, max]`.
    pub fn positive<T: Copy + Into<f64> + Display>(&mut self, name: &str, v: T, max: f64) {
        let x: f64 = v.into();
        self.rule(x.is_finite() && x > 0.0 && x <= max, name, || {
            format!("{v} is not a finite number in (0, {max}]")
        });
    }

    /// A finite number in `[0, max]`.
    pub fn non_negative<T: Copy + Into<f64> + Display>(&mut self, name: &str, v: T, max: f64) {
        self.range(name, v, 0.0, max);
    }

    /// A finite number in `[lo, hi]`.
    pub fn range<T: Copy + Into<f64> + Display>(&mut self, name: &str, v: T, lo: f64, hi: f64) {
        let x: f64 = v.into();
        self.rule(x.is_finite() && x >= lo && x <= hi, name, || {
            format!("{v} is not a finite number in [{lo}, {hi}]")
        });
    }

    /// A fraction in `[0, 1]`.
    pub fn fraction<T: Copy + Into<f64> + Display>(&mut self, name: &str, v: T) {
        self.range(name, v, 0.0, 1.0);
    }

    /// An integer in `[lo, hi]` (counts, sizes, indices).
    pub fn count<T: Copy + TryInto<i128> + Display>(
        &mut self,
        name: &str,
        v: T,
        lo: i128,
        hi: i128,
    ) {
        let ok = v.try_into().is_ok_and(|x: i128| (lo..=hi).contains(&x));
        self.rule(ok, name, || format!("{v} is not in {lo}..={hi}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Inner {
        cell_m: f32,
        sectors: usize,
    }
    impl Validate for Inner {
        fn validate(&self, c: &mut Check) {
            c.positive("cell_m", self.cell_m, 10.0);
            c.count("sectors", self.sectors, 8, 4096);
        }
    }

    #[test]
    fn issues_carry_the_key_path() {
        let mut c = Check::new();
        c.section(
            "lidar",
            &Inner {
                cell_m: f32::NAN,
                sectors: 0,
            },
        );
        let keys: Vec<_> = c.issues().iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["lidar.cell_m", "lidar.sectors"]);
        assert!(c.issues()[0].message.contains("NaN"));
        let mut c = Check::new();
        c.section(
            "lidar",
            &Inner {
                cell_m: 0.4,
                sectors: 360,
            },
        );
        assert!(c.into_first().is_none());
        let mut c = Check::new();
        c.positive("x", 1e20f64, 1e3);
        c.non_negative("y", -1.0f64, 1.0);
        c.count("z", 4_000_000_000u32, 1, 1000);
        assert_eq!(c.issues().len(), 3);
    }
}

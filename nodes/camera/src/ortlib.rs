//! Finding and loading the ONNX Runtime shared library (`load-dynamic`), and the environment
//! shared by all sessions of the process.
//!
//! Order: the config's `onnxruntime_path`, then `ORT_DYLIB_PATH`, then
//! `.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*` (what
//! `scripts/setup` installs), searched upward from the current directory and from the
//! executable's directory.

use crate::error::CameraError;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The directories from which upward searches start: the current directory, then the
/// executable's directory.
pub(crate) fn search_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        && !roots.contains(&dir)
    {
        roots.push(dir);
    }
    roots
}

/// Finds `libonnxruntime.so*` in a Python venv's `onnxruntime/capi` under `venv`.
fn in_venv(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    let mut pythons: Vec<PathBuf> = std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python3"))
        })
        .collect();
    pythons.sort();
    for python in pythons {
        let capi = python.join("site-packages/onnxruntime/capi");
        let Ok(entries) = std::fs::read_dir(&capi) else {
            continue;
        };
        let mut libs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libonnxruntime.so"))
            })
            .collect();
        // The fully versioned name sorts last: prefer it (a symlink may be absent).
        libs.sort();
        if let Some(lib) = libs.pop() {
            return Some(lib);
        }
    }
    None
}

/// Resolves the ONNX Runtime library path (see the module docs for the order).
pub fn resolve_library(configured: Option<&Path>) -> Result<PathBuf, CameraError> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(CameraError::OrtLibraryNotFound {
                searched: format!("onnxruntime_path {} (no such file)", path.display()),
            })
        };
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(CameraError::OrtLibraryNotFound {
                searched: format!("ORT_DYLIB_PATH={} (no such file)", path.display()),
            })
        };
    }
    let mut searched = Vec::new();
    for root in search_roots() {
        for dir in root.ancestors() {
            let venv = dir.join(".venv");
            if let Some(lib) = in_venv(&venv) {
                return Ok(lib);
            }
        }
        searched.push(format!("{}/**/.venv", root.display()));
    }
    Err(CameraError::OrtLibraryNotFound {
        searched: format!("ORT_DYLIB_PATH unset; {}", searched.join(", ")),
    })
}

static LOADED: Mutex<Option<PathBuf>> = Mutex::new(None);
static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();

/// Loads the library (once per process) and returns the shared environment. A later call with
/// a different library path keeps the first one and says so in the log.
pub fn environment(
    configured: Option<&Path>,
) -> Result<&'static ort::environment::Environment, CameraError> {
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if loaded.is_none() {
        let path = resolve_library(configured)?;
        let builder = ort::init_from(&path).map_err(|source| CameraError::OrtLibraryLoad {
            path: path.clone(),
            source,
        })?;
        let env = builder
            .with_name("fusionrt")
            .with_telemetry(false)
            .build()
            .map_err(CameraError::ort("creating the environment"))?;
        tracing::info!(library = %path.display(), "ONNX Runtime loaded");
        let _ = ENVIRONMENT.set(env);
        *loaded = Some(path);
    } else if let (Some(want), Some(have)) = (configured, loaded.as_ref())
        && want != have.as_path()
    {
        tracing::warn!(
            wanted = %want.display(),
            loaded = %have.display(),
            "ONNX Runtime is already loaded from another library; keeping it"
        );
    }
    ENVIRONMENT
        .get()
        .ok_or_else(|| CameraError::Config("ONNX Runtime environment missing".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_path_that_does_not_exist_is_a_clear_error() {
        let err = resolve_library(Some(Path::new("/nonexistent/libonnxruntime.so")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/libonnxruntime.so"), "{err}");
        assert!(err.contains("scripts/setup"), "{err}");
    }

    #[test]
    fn a_venv_layout_is_found() {
        let dir = std::env::temp_dir().join(format!("fusionrt-venv-{}", std::process::id()));
        let capi = dir.join("lib/python3.11/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::write(capi.join("libonnxruntime.so.1.31.1"), b"").unwrap();
        assert_eq!(
            in_venv(&dir).unwrap(),
            capi.join("libonnxruntime.so.1.31.1")
        );
        assert!(in_venv(&dir.join("none")).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

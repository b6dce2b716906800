//! Model cards: the YAML file beside each model that says where it came from, its checksum,
//! its input (size, channel order, normalisation), its decoder and its class names.

use crate::error::CameraError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The output layout of a detection model, which picks the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecoderKind {
    /// NanoDet / GFL heads: per stride, class scores [1, N, C] (sigmoid applied) and box
    /// distributions [1, N, 4 * (reg_max + 1)].
    Nanodet,
    /// YOLOv8 / YOLO11: one output [1, 4 + C, N], rows cx, cy, w, h (input pixels) then class
    /// scores (sigmoid applied).
    #[serde(alias = "yolo11")]
    Yolov8,
    /// YOLOX as exported with decoding in the graph: [1, N, 5 + C], cx, cy, w, h (input
    /// pixels), objectness, class scores (sigmoid applied).
    Yolox,
}

/// Channel order of the network input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    /// Red, green, blue planes.
    Rgb,
    /// Blue, green, red planes.
    Bgr,
}

/// The network input: a planar [1, 3, height, width] float tensor of `(x - mean) / std`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Input tensor name.
    pub name: String,
    /// Input width, px.
    pub width: u32,
    /// Input height, px.
    pub height: u32,
    /// Channel order of the planes.
    pub channel_order: ChannelOrder,
    /// Per-plane mean, in 0..255 pixel units, in the input's channel order.
    pub mean: [f32; 3],
    /// Per-plane standard deviation, in 0..255 pixel units, in the input's channel order.
    pub std: [f32; 3],
    /// Pixel value (0..255) of the padding outside the image (letterbox, tiles).
    #[serde(default)]
    pub pad_value: f32,
}

/// A model card (`models/<name>.yaml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Model name.
    pub name: String,
    /// ONNX file, relative to the card.
    pub file: PathBuf,
    /// SHA-256 of the ONNX file, lower-case hex.
    pub sha256: String,
    /// Provenance and licences, free text by key.
    #[serde(default)]
    pub source: BTreeMap<String, String>,
    /// The decoder for the outputs.
    pub decoder: DecoderKind,
    /// The input tensor.
    pub input: InputSpec,
    /// Feature strides (NanoDet), px.
    #[serde(default)]
    pub strides: Vec<u32>,
    /// Largest bin index of the box distributions (NanoDet): reg_max + 1 bins per side.
    #[serde(default)]
    pub reg_max: u32,
    /// Class names in model order.
    pub classes: Vec<String>,
}

/// A model card read from disk, with the path of its ONNX file.
#[derive(Clone, Debug)]
pub struct InstalledModel {
    /// The card file.
    pub card_path: PathBuf,
    /// The ONNX file (the card's `file`, relative to the card).
    pub model_path: PathBuf,
    /// The card.
    pub card: ModelCard,
}

impl InstalledModel {
    /// Reads a card and checks that it is self-consistent (not the model file: see [`verify_sha256`]).
    pub fn load(card_path: &Path) -> Result<Self, CameraError> {
        let card: ModelCard = fusionrt_core::config::load_yaml_file(card_path)?;
        let dir = card_path.parent().unwrap_or(Path::new("."));
        let model_path = dir.join(&card.file);
        let bad = |reason: String| {
            CameraError::Card(fusionrt_core::config::ConfigError::Invalid {
                origin: card_path.display().to_string(),
                key: String::new(),
                mark: None,
                message: reason,
            })
        };
        if card.input.width == 0 || card.input.height == 0 {
            return Err(bad("input width and height must be positive".into()));
        }
        if card.input.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(bad("input std must be positive".into()));
        }
        if card.classes.is_empty() {
            return Err(bad("classes must not be empty".into()));
        }
        if card.sha256.len() != 64 || !card.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("sha256 must be 64 hex digits".into()));
        }
        if card.decoder == DecoderKind::Nanodet {
            if card.strides.is_empty() || card.reg_max == 0 {
                return Err(bad("a nanodet card needs strides and reg_max".into()));
            }
            if card.strides.iter().any(|&s| {
                s == 0
                    || !card.input.width.is_multiple_of(s)
                    || !card.input.height.is_multiple_of(s)
            }) {
                return Err(bad(
                    "every stride must divide the input width and height".into()
                ));
            }
        }
        Ok(Self {
            card_path: card_path.to_path_buf(),
            model_path,
            card,
        })
    }

    /// Reads the ONNX file and checks its SHA-256 against the card; returns the bytes.
    pub fn read_verified(&self) -> Result<Vec<u8>, CameraError> {
        let bytes = std::fs::read(&self.model_path).map_err(|source| CameraError::Io {
            path: self.model_path.clone(),
            source,
        })?;
        verify_sha256(&self.model_path, &bytes, &self.card.sha256)?;
        Ok(bytes)
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `bytes` (read from `path`) against the expected SHA-256.
pub fn verify_sha256(path: &Path, bytes: &[u8], expected: &str) -> Result<(), CameraError> {
    let actual = sha256_hex(bytes);
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(CameraError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// Finds the card for a model given by name (`nanodet`), card path (`x.yaml`) or ONNX path
/// (`x.onnx`, card `x.yaml` beside it). Names are looked up in `models_dir` if given, else in
/// `FUSIONRT_MODELS`, else in a `models/` folder found upward from the current directory and
/// from the executable's directory.
pub fn find_card(name: &str, models_dir: Option<&Path>) -> Result<PathBuf, CameraError> {
    let as_path = Path::new(name);
    let ext = as_path.extension().and_then(|e| e.to_str());
    if matches!(ext, Some("yaml" | "yml" | "onnx")) || name.contains('/') {
        let card = if ext == Some("onnx") {
            as_path.with_extension("yaml")
        } else {
            as_path.to_path_buf()
        };
        return if card.is_file() {
            Ok(card)
        } else {
            Err(CameraError::ModelNotFound {
                name: name.to_string(),
                searched: card.display().to_string(),
            })
        };
    }
    let dirs = model_dirs(models_dir);
    for dir in &dirs {
        let card = dir.join(format!("{name}.yaml"));
        if card.is_file() {
            return Ok(card);
        }
    }
    let searched = if dirs.is_empty() {
        let roots: Vec<String> = crate::ortlib::search_roots()
            .iter()
            .map(|r| format!("{}/**/models", r.display()))
            .collect();
        format!(
            "FUSIONRT_MODELS unset, no models/ folder upward of {}",
            roots.join(", ")
        )
    } else {
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(CameraError::ModelNotFound {
        name: name.to_string(),
        searched,
    })
}

/// The folders searched for model cards, in order.
pub fn model_dirs(models_dir: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = models_dir {
        return vec![dir.to_path_buf()];
    }
    if let Some(dir) = std::env::var_os("FUSIONRT_MODELS") {
        return vec![PathBuf::from(dir)];
    }
    let mut dirs = Vec::new();
    for start in crate::ortlib::search_roots() {
        for dir in start.ancestors() {
            let candidate = dir.join("models");
            if candidate.join("nanodet.yaml").is_file() || has_cards(&candidate) {
                if !dirs.contains(&candidate) {
                    dirs.push(candidate);
                }
                break;
            }
        }
    }
    dirs
}

fn has_cards(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "yaml"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/nanodet.yaml")
    }

    #[test]
    fn shipped_card_parses_and_its_model_verifies() {
        let model = InstalledModel::load(&shipped()).unwrap();
        assert_eq!(model.card.decoder, DecoderKind::Nanodet);
        assert_eq!(model.card.classes.len(), 80);
        assert_eq!(model.card.classes[2], "car");
        assert_eq!(model.card.input.channel_order, ChannelOrder::Bgr);
        model.read_verified().unwrap();
    }

    #[test]
    fn wrong_checksum_and_missing_model_are_named() {
        let dir = std::env::temp_dir().join(format!("fusionrt-card-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = std::fs::read_to_string(shipped()).unwrap();
        std::fs::write(dir.join("m.yaml"), text.replace("nanodet.onnx", "m.onnx")).unwrap();
        let model = InstalledModel::load(&dir.join("m.yaml")).unwrap();
        let err = model.read_verified().unwrap_err();
        assert!(matches!(err, CameraError::Io { .. }), "{err}");
        std::fs::write(dir.join("m.onnx"), b"truncated").unwrap();
        let err = model.read_verified().unwrap_err().to_string();
        assert!(err.contains("SHA-256") && err.contains("m.onnx"), "{err}");
        std::fs::write(dir.join("bad.yaml"), "name: x\nbogus: 1\n").unwrap();
        let err = InstalledModel::load(&dir.join("bad.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.yaml"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_and_paths_resolve_to_cards() {
        let dir = shipped().parent().unwrap().to_path_buf();
        assert_eq!(
            find_card("nanodet", Some(&dir)).unwrap(),
            dir.join("nanodet.yaml")
        );
        let onnx = dir.join("nanodet.onnx");
        assert_eq!(
            find_card(onnx.to_str().unwrap(), None).unwrap(),
            dir.join("nanodet.yaml")
        );
        assert!(matches!(
            find_card("no-such-model", Some(&dir)),
            Err(CameraError::ModelNotFound { .. })
        ));
    }
}

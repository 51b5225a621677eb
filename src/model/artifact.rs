//! A model artifact: one directory holding `model.json` (kind, shape, feature list, label,
//! scaler, ridge coefficients, training configuration and figures) and, for networks,
//! `weights.safetensors`.

use super::meta::{Evaluation, LabelKind};
use super::net::{ModelKind, Net, NetSpec};
use super::ridge::Ridge;
use super::scaler::RobustScaler;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn;

pub const FORMAT: &str = "kairos-model/1";

/// `model.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelMeta {
    pub format: String,
    pub net: NetSpec,
    pub features: Vec<String>,
    pub window: usize,
    pub horizon: usize,
    pub label: LabelKind,
    pub scaler: RobustScaler,
    pub ridge: Option<Ridge>,
    /// The training configuration, as given.
    pub config: serde_json::Value,
    pub validation: Option<Evaluation>,
    pub test: Option<Evaluation>,
}

/// Errors reading or writing artifacts.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: not a {FORMAT} artifact: {message}")]
    Format { path: String, message: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> ArtifactError {
    ArtifactError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `dir/model.json` and, with a var store, `dir/weights.safetensors`.
///
/// # Errors
/// I/O or serialization errors.
pub fn save(dir: &Path, meta: &ModelMeta, vs: Option<&nn::VarStore>) -> Result<(), ArtifactError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let json = serde_json::to_string_pretty(meta).map_err(|e| io(dir, e))?;
    std::fs::write(dir.join("model.json"), json + "\n").map_err(|e| io(dir, e))?;
    if let Some(vs) = vs {
        vs.save(dir.join("weights.safetensors")).map_err(|e| io(dir, e))?;
    }
    Ok(())
}

/// Reads an artifact's metadata.
///
/// # Errors
/// Missing file or wrong format.
pub fn load_meta(dir: &Path) -> Result<ModelMeta, ArtifactError> {
    let p = dir.join("model.json");
    let text = std::fs::read_to_string(&p).map_err(|e| io(&p, e))?;
    let meta: ModelMeta = serde_json::from_str(&text).map_err(|e| ArtifactError::Format {
        path: p.display().to_string(),
        message: e.to_string(),
    })?;
    if meta.format != FORMAT {
        return Err(ArtifactError::Format {
            path: p.display().to_string(),
            message: format!("format {:?}", meta.format),
        });
    }
    Ok(meta)
}

/// Loads a network artifact onto `device`.
///
/// # Errors
/// As [`load_meta`], or weights that do not fit the shape.
pub fn load_net(dir: &Path, device: tch::Device) -> Result<(ModelMeta, nn::VarStore, Net), ArtifactError> {
    let meta = load_meta(dir)?;
    if meta.net.kind == ModelKind::Ridge {
        return Err(ArtifactError::Format {
            path: dir.display().to_string(),
            message: "a ridge artifact has no network".into(),
        });
    }
    let mut vs = nn::VarStore::new(device);
    let net = Net::new(&vs.root(), meta.net.clone());
    let w = dir.join("weights.safetensors");
    vs.load(&w).map_err(|e| io(&w, e))?;
    Ok((meta, vs, net))
}

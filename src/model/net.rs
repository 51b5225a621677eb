//! The networks: an LSTM regressor and an attention-LSTM variant (tch / libtorch).
//!
//! Layers are stacked single-layer LSTMs so that dropout between layers follows the train/eval
//! switch explicitly. The linear head reads the pooled LSTM output and the last bar's inputs.
//! Input `[batch, window, features]`, output `[batch]`.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, RNN};
use tch::{Kind, Tensor};

/// Which model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    #[default]
    Lstm,
    /// LSTM outputs pooled by learned attention weights over the window.
    AttentionLstm,
    /// Ridge regression on the last bar's features (the baseline; no tch).
    Ridge,
}

/// Shape of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetSpec {
    pub kind: ModelKind,
    pub n_features: i64,
    pub hidden: i64,
    pub layers: i64,
    pub dropout: f64,
}

pub struct Net {
    pub spec: NetSpec,
    lstm: Vec<nn::LSTM>,
    attention: Option<nn::Linear>,
    head: nn::Linear,
}

impl Net {
    pub fn new(root: &nn::Path, spec: NetSpec) -> Self {
        let cfg = nn::RNNConfig {
            batch_first: true,
            ..Default::default()
        };
        let lstm = (0..spec.layers.max(1))
            .map(|l| {
                let input = if l == 0 { spec.n_features } else { spec.hidden };
                nn::lstm(root / format!("lstm{l}"), input, spec.hidden, cfg)
            })
            .collect();
        let attention = (spec.kind == ModelKind::AttentionLstm)
            .then(|| nn::linear(root / "attention", spec.hidden, 1, Default::default()));
        // The head also sees the last bar's inputs directly: a linear path beside the recurrent
        // one, so a weak linear signal is learned as readily as by the ridge baseline.
        let head = nn::linear(root / "head", spec.hidden + spec.n_features, 1, Default::default());
        Self {
            spec,
            lstm,
            attention,
            head,
        }
    }

    /// Scores of a batch of windows.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (i, layer) in self.lstm.iter().enumerate() {
            if i > 0 {
                h = h.dropout(self.spec.dropout, train);
            }
            h = layer.seq(&h).0;
        }
        let pooled = match &self.attention {
            Some(att) => {
                let w = att.forward(&h).softmax(1, Kind::Float);
                (h * w).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
            }
            None => h.select(1, -1),
        };
        let last_inputs = x.select(1, -1);
        self.head
            .forward(&Tensor::cat(&[pooled, last_inputs], 1))
            .squeeze_dim(-1)
    }
}

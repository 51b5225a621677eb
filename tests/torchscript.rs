//! TorchScript models exported from PyTorch (tests/fixtures, made by
//! scripts/export_torchscript_fixture.py) give PyTorch's outputs in Kairos within 1e-5, for a
//! traced `[batch, 1]` model and a scripted `[batch]` one.
#![cfg(feature = "torch")]

use kairos::model::infer::{score_windows, ModelSource};
use std::path::PathBuf;

#[test]
fn torchscript_fixtures_match_pytorch() {
    let dir = PathBuf::from("tests/fixtures");
    let fx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("fixtures.json")).expect("fixtures")).expect("json");
    let inputs: Vec<f32> = fx["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN) as f32)
        .collect();
    let batch = fx["batch"].as_u64().expect("batch") as usize;
    for name in ["lstm_traced", "lstm_scripted"] {
        let src = ModelSource::TorchScript {
            model: dir.join(format!("{name}.pt")),
            scaler: dir.join(format!("{name}.scaler.json")),
        };
        let got = score_windows(&src, &inputs, batch, "cpu").expect("score");
        let want: Vec<f64> = fx[name]
            .as_array()
            .expect("expected")
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{name}: kairos {g} pytorch {w}");
        }
    }
}

#[test]
fn a_torchscript_model_without_its_scaler_is_an_error() {
    let src = ModelSource::TorchScript {
        model: PathBuf::from("tests/fixtures/lstm_traced.pt"),
        scaler: PathBuf::from("tests/fixtures/missing.json"),
    };
    let err = score_windows(&src, &[0.0; 24], 1, "cpu").expect_err("no scaler");
    assert!(err.to_string().contains("missing.json"), "{err}");
}

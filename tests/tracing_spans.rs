//! `RUST_LOG=kairos=debug` shows which actor did what at which step: every event of a run is
//! inside a `run` span, and an actor's events inside that actor's span.

mod common;
use kairos::data::synth::{self, SynthSpec};
use kairos::supervisor::{run, Feed, RunSetup};
use std::sync::Arc;

#[test]
fn debug_logs_name_the_run_the_actor_and_the_step() {
    let dir = tempfile::tempdir().expect("tmp");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 4,
            days: 30,
            ..SynthSpec::default()
        },
        dir.path(),
    )
    .expect("synth");
    let data = Arc::new(kairos::feeds::load(dir.path(), &Default::default()).expect("load"));
    let log = common::Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("kairos=debug"))
        .finish();
    let setup = RunSetup {
        data,
        feed: Feed::Replay,
        venue: Default::default(),
        strategy: kairos::strategies::build("topk", &toml::Table::new()).expect("topk"),
        features: Box::new(kairos::feature::NoFeatures),
        model: None,
        initial_cash: rust_decimal::Decimal::from(100_000),
        window: 4,
        out_dir: dir.path().join("out"),
        event_log: false,
        progress: false,
        status: None,
    };
    // A current-thread runtime runs every actor on this thread, under this subscriber.
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run(setup)).expect("run");
    });
    let text = log.text();
    let decided: Vec<&str> = text.lines().filter(|l| l.contains("decided")).collect();
    assert_eq!(decided.len(), 30, "one decision per step:\n{text}");
    for (step, line) in decided.iter().enumerate() {
        assert!(line.contains("run{run="), "{line}");
        assert!(line.contains("actor{actor=\"strategy\"}"), "{line}");
        assert!(line.contains(&format!("decide{{step={step}}}")), "{line}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("actor{actor=\"portfolio\"}") && l.contains("settled the run")),
        "{text}"
    );
}

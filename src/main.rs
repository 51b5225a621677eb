//! The `kairos` command: every subcommand of [`kairos::cli`] with the built-in strategies. A
//! crate of a user's own strategies has the same `main` with its own registry (`kairos new`).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kairos::cli::main_with(kairos::strategy::Strategies::builtin())
}

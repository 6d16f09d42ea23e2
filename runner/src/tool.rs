//! What the command-line tools (`lottery`, `attest`) share around their commands.

use std::process::ExitCode;

/// Sets up the tools' logging ([`crate::logging::init_cli`]), runs `command` on a
/// small runtime (a tool waits on the network; it does not compute), and turns its
/// result into the exit code: `failed` prints the error and picks the code.
/// `no_runtime` is the exit code when the runtime cannot start.
pub fn run<E>(
    command: impl Future<Output = Result<(), E>>,
    failed: impl FnOnce(E) -> ExitCode,
    no_runtime: ExitCode,
) -> ExitCode {
    crate::logging::init_cli();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: cannot start the async runtime: {e}");
            }
            return no_runtime;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(e),
    }
}

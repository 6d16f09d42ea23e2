//! What the benchmark harnesses share: reading `/proc`, and naming the machine a
//! run happened on (every BENCHMARKS.md table says).

/// A `Key:   123 kB` field of a `/proc` file, in KiB (0 when the file or field is
/// gone, e.g. the process exited).
pub fn proc_kib(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Cores, CPU model, memory and kernel: `2 cores (nproc), AMD EPYC …, 23.5 GiB RAM,
/// Linux 6.18`.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    #[allow(clippy::cast_precision_loss)] // KiB of RAM fit an f64 exactly
    let memory_gib = proc_kib("/proc/meminfo", "MemTotal:") as f64 / (1024.0 * 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
    format!("{cores} cores (nproc), {cpu}, {memory_gib:.1} GiB RAM, Linux {kernel}")
}

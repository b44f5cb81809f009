//! Counting physical CPU cores (llama.cpp runs slower with one thread per hyper-thread).

use std::collections::HashSet;

/// Number of physical cores, never more than the logical CPUs this process may use, at least 1.
pub(crate) fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let physical = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| count_physical_cores(&text))
        .unwrap_or(logical);
    physical.clamp(1, logical)
}

/// Counts distinct `(physical id, core id)` pairs in `/proc/cpuinfo` text.
fn count_physical_cores(cpuinfo: &str) -> Option<usize> {
    let mut cores = HashSet::new();
    for block in cpuinfo.split("\n\n") {
        let mut physical = None;
        let mut core = None;
        for line in block.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            match key.trim() {
                "physical id" => physical = Some(value.trim().to_owned()),
                "core id" => core = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        if let Some(core) = core {
            cores.insert((physical.unwrap_or_default(), core));
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyperthreads_count_once() {
        let text = "processor: 0\nphysical id: 0\ncore id: 0\n\n\
                    processor: 1\nphysical id: 0\ncore id: 1\n\n\
                    processor: 2\nphysical id: 0\ncore id: 0\n\n\
                    processor: 3\nphysical id: 0\ncore id: 1\n";
        assert_eq!(count_physical_cores(text), Some(2));
    }

    #[test]
    fn sockets_are_distinct() {
        let text = "physical id: 0\ncore id: 0\n\nphysical id: 1\ncore id: 0\n";
        assert_eq!(count_physical_cores(text), Some(2));
    }

    #[test]
    fn no_core_ids_means_unknown() {
        assert_eq!(count_physical_cores("processor: 0\nmodel name: x\n"), None);
    }

    #[test]
    fn result_is_within_logical_cpus() {
        let n = physical_cores();
        let logical = std::thread::available_parallelism().unwrap().get();
        assert!(n >= 1 && n <= logical);
    }
}

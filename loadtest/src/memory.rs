//! Resident memory of this process, read from `/proc` (no libc).

use std::io::{BufRead, BufReader};

/// The kernel's page size in bytes, from the first mapping in `/proc/self/smaps`
/// (4096 when it cannot be read).
pub fn page_size() -> u64 {
    let Ok(file) = std::fs::File::open("/proc/self/smaps") else {
        return 4096;
    };
    for line in BufReader::new(file).lines().take(64) {
        let Ok(line) = line else { break };
        if let Some(rest) = line.strip_prefix("KernelPageSize:") {
            let kb = rest.trim().trim_end_matches("kB").trim();
            if let Ok(kb) = kb.parse::<u64>() {
                return kb * 1024;
            }
        }
    }
    4096
}

/// Resident set size in bytes: the second field of `/proc/self/statm` times the page
/// size; `None` where `/proc` is not available.
pub fn rss_bytes(page_size: u64) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size)
}

/// Bytes each item added between two readings (0 when there were no items or no readings).
pub fn per_item(before: Option<u64>, after: Option<u64>, items: u64) -> f64 {
    match (before, after) {
        (Some(b), Some(a)) if items > 0 => (a as f64 - b as f64) / items as f64,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_grows_with_touched_memory() {
        let page = page_size();
        assert!(page >= 4096);
        let Some(before) = rss_bytes(page) else {
            return; // no /proc here
        };
        let block = vec![1u8; 64 << 20];
        let after = rss_bytes(page).unwrap_or(0);
        assert!(after > before, "{after} > {before}");
        assert_eq!(std::hint::black_box(&block)[12345], 1);
        assert_eq!(per_item(Some(100), Some(300), 4), 50.0);
        assert_eq!(per_item(Some(100), None, 4), 0.0);
    }
}

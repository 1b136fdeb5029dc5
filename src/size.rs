//! Sizes: parse `10MiB`; format. (Placeholder until the config branch lands.)
pub fn format(n: u64) -> String {
    format!("{n}B")
}

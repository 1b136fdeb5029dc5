//! Client commands (placeholder until the control branch lands).
pub fn main(_cli: &crate::cli::Cli) -> u8 {
    eprintln!("tend: not implemented yet");
    1
}

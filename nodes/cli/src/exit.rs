//! Error classification for the CLI: bad input (exit 2) versus other failures (exit 1).
//!
//! Commands wrap errors caused by the user's input (missing or malformed files, bad flags,
//! invalid config) with [`bad_input`]; everything else is a failure.

use std::fmt;

/// Marks an error as caused by the user's input or config (exit code 2).
#[derive(Debug)]
pub struct BadInput(pub anyhow::Error);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", one_line(&self.0))
    }
}

impl std::error::Error for BadInput {}

/// Wraps an error as bad input: the command exits with code 2.
pub fn bad_input(err: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(BadInput(err.into()))
}

/// The error and its causes joined on one line, skipping causes already in the message.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
}

/// The process exit code for an error.
pub fn code_for(err: &anyhow::Error) -> u8 {
    if err.chain().any(|c| c.is::<BadInput>()) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_maps_to_exit_2_even_under_context() {
        let err = bad_input(anyhow::anyhow!("no such scenario `x`")).context("loading scenario");
        assert_eq!(code_for(&err), 2);
        assert_eq!(code_for(&anyhow::anyhow!("boom")), 1);
        assert_eq!(one_line(&err), "loading scenario: no such scenario `x`");
    }
}

//! The one place localkube talks to the person at the terminal: progress of long steps and
//! plain messages. Tests and scripts get plain lines; `LOCALKUBE_PROGRESS=quiet` silences them.

pub mod progress;

pub use progress::{Progress, Step, Ui};

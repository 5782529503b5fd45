//! `localkube logs [COMPONENT] [-f]`: a component's output, as Docker keeps it; `logs audit`: the
//! apiservers' audit log, from the profile's folder.

use std::io::Write;

use anyhow::Result;

use super::Ctx;
use crate::lifecycle::logs;
use crate::plan::audit_log::format_event;
use crate::plan::terminal_text::escape_controls;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// etcd, apiserver, controller-manager, scheduler, node, or a node's name (default: all);
    /// `audit` for the apiserver's audit log (when the profile has one: `audit:` in its cluster
    /// file), one line an event: time, user, verb, object, response code.
    pub component: Option<String>,
    /// Keep following the logs.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines of each component.
    #[arg(long, default_value_t = 200)]
    pub tail: usize,
    /// With `audit`: the events as the apiserver wrote them (JSON, one a line).
    #[arg(long)]
    pub raw: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let config = ctx.home.profile(&ctx.profile).load_config()?;
    // Written, not printed: a reader that goes away (`| head`) ends the command with an error
    // instead of a panic.
    let mut out = std::io::stdout();
    if args.component.as_deref() == Some("audit") {
        logs::audit(
            &ctx.home,
            &ctx.profile,
            &config,
            args.tail,
            args.follow,
            |line| {
                if args.raw {
                    // JSON escapes control characters in strings; a line that is not JSON may not.
                    writeln!(out, "{}", escape_controls(line))?;
                } else if let Some(text) = format_event(line) {
                    writeln!(out, "{text}")?;
                }
                Ok(out.flush()?)
            },
        )?;
        return Ok(0);
    }
    super::block_on(logs::components(
        &ctx.profile,
        args.component.as_deref(),
        args.tail,
        args.follow,
        &mut out,
    ))??;
    Ok(0)
}

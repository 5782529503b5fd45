//! The `Kubeconfigs` step (the components' kubeconfigs) and `KubeconfigMerge` (the profile's
//! credentials in the user's kubeconfig).

use anyhow::Result;

use super::Outcome;
use super::context::StartContext;
use crate::effects::kubeconfig_store;

pub(super) async fn component_kubeconfigs(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx.ui.step("Writing kubeconfigs");
    kubeconfig_store::write_component_kubeconfigs(&ctx.dir, ctx.config())?;
    step.done();
    Ok(())
}

/// The profile's credentials in the user's kubeconfig (the context switched unless asked not to).
pub(super) async fn kubeconfig_merge(ctx: &mut StartContext<'_>) -> Result<()> {
    let credentials = kubeconfig_store::admin_credentials(&ctx.dir, ctx.config())?;
    let path = kubeconfig_store::merge_into_user(&credentials, ctx.request.switch_context)?;
    ctx.merged = true;
    let context = credentials.context.clone();
    ctx.outcome = Some(if ctx.already_running {
        Outcome::AlreadyRunning {
            context,
            kubeconfig: path,
            addresses: Vec::new(),
        }
    } else {
        Outcome::Started {
            context,
            kubeconfig: path,
        }
    });
    Ok(())
}

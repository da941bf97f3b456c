//! The resume sweep: after a restart (or, in cluster mode, a takeover) every conversation
//! with work left to do without the user is woken and driven to its answer.
//!
//! A conversation whose model reply or adaptor call was in flight, or whose user messages
//! were waiting for their turn, when its node stopped has `pending_work` set in the store.
//! Conversations are otherwise rebuilt only on demand, so without this sweep such a
//! conversation would wait for the user to write again (on WhatsApp, Slack or Teams,
//! where nobody reconnects, it would wait forever). The sweep pages through them and
//! sends each a `Start`, which spawns the actor (claiming it in cluster mode, or reaching
//! its owner) and so runs its recovery. It runs once at start, and in cluster mode again
//! every lease TTL, which picks up the conversations of a node that died.

use std::time::Duration;

use futures_util::StreamExt;
use tracing::{debug, info, warn};

use super::Runtime;
use crate::store::ConversationKey;
use crate::turn::Command;

/// Conversations read per page.
const PAGE: i64 = 200;
/// Conversations woken at once: each may start a model call.
const CONCURRENT: usize = 8;

/// Starts the sweep on the current runtime: now, and every `every` when given.
pub fn start(runtime: Runtime, every: Option<Duration>) {
    tokio::spawn(async move {
        let woken = sweep(&runtime).await;
        if woken > 0 {
            info!(
                conversations = woken,
                "resumed conversations interrupted by a restart"
            );
        }
        let Some(every) = every else { return };
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let woken = sweep(&runtime).await;
            if woken > 0 {
                debug!(conversations = woken, "resume sweep woke conversations");
            }
        }
    });
}

/// Wakes every unfinished conversation once; returns how many answered.
pub async fn sweep(runtime: &Runtime) -> usize {
    let store = &runtime.services().store;
    let mut after: Option<ConversationKey> = None;
    let mut woken = 0;
    loop {
        let page = match store.unfinished_conversations(after.as_ref(), PAGE).await {
            Ok(page) => page,
            Err(error) => {
                warn!(error = %error, "cannot look for unfinished conversations");
                return woken;
            }
        };
        let Some(last) = page.last().cloned() else {
            return woken;
        };
        woken += futures_util::stream::iter(page)
            .map(|key| wake(runtime, key))
            .buffer_unordered(CONCURRENT)
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await;
        after = Some(last);
    }
}

async fn wake(runtime: &Runtime, key: ConversationKey) -> bool {
    let tenant = match runtime.tenant(&key.tenant_id).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return false,
        Err(error) => {
            debug!(tenant_id = %key.tenant_id, error = %error, "cannot reach the tenant to resume");
            return false;
        }
    };
    match tenant
        .command(&key.id, Command::Start, false)
        .await
        .into_done()
    {
        Ok(()) => true,
        Err(error) => {
            debug!(tenant_id = %key.tenant_id, conversation_id = %key.id, error = ?error,
                "cannot resume the conversation now");
            false
        }
    }
}

//! The outbox of provider replies is tenant-isolated like every other table: a message id
//! or an account id presented with another tenant's id reads nothing and changes nothing.
//! Straight through the store, on both databases.

use crate::support::Backend;
use switchboard::config::DatabaseConfig;
use switchboard::store::{NewEvent, NewTenant, Store, TurnState};
use switchboard::transcript::{MessageMeta, Role};

async fn outbox_queries_stay_inside_their_tenant(backend: Backend) {
    let store = Store::connect(&DatabaseConfig {
        url: backend.url.clone(),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    for id in ["acme", "globex"] {
        store
            .create_tenant(&NewTenant {
                id,
                name: id,
                entry_flow: "demo",
                allowed_origins: &[],
                allow_private_adaptors: false,
                llm_model: None,
            })
            .await
            .unwrap();
    }
    store
        .put_channel_account("acme", "acme-wa", "whatsapp", "{}", "sealed")
        .await
        .unwrap();
    let (conversation, _) = store
        .open_thread_conversation(
            "acme",
            "acme-wa",
            "whatsapp",
            "+15550001",
            "demo",
            1,
            "{}",
            "{}",
        )
        .await
        .unwrap();
    store
        .commit_turn(
            "acme",
            &conversation,
            0,
            &[NewEvent {
                seq: 1,
                message_id: "m1",
                role: Role::Bot,
                text: "your order shipped",
                meta: &MessageMeta::NONE,
            }],
            &TurnState {
                dialog_state: "{}",
                status: "active",
                applied_seq: 0,
                pending_work: false,
                outbox_account: Some("acme-wa"),
                timer_due_at: None,
                handoff_queue: None,
                assign_to: None,
            },
        )
        .await
        .unwrap();

    // Another tenant's id finds nothing…
    assert!(store.outbox_entry("globex", "m1").await.unwrap().is_none());
    assert!(
        store
            .pending_outbox("globex", "acme-wa", None)
            .await
            .unwrap()
            .is_empty()
    );
    // …and touches nothing.
    store
        .finish_outbox("globex", "m1", "sent", 1, Some("wamid.x"), None)
        .await
        .unwrap();
    let row = store.outbox_entry("acme", "m1").await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 0));
    let pending = store.pending_outbox("acme", "acme-wa", None).await.unwrap();
    assert_eq!(pending.len(), 1);

    // The owner's id does.
    store
        .finish_outbox("acme", "m1", "sent", 1, Some("wamid.x"), None)
        .await
        .unwrap();
    let row = store.outbox_entry("acme", "m1").await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 1));
    store.close().await;
}

on_both_stores!(outbox_queries_stay_inside_their_tenant);

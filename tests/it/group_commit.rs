//! Group commit when one write of a batch fails: the others commit and get their acks,
//! the failing one gets its own error and leaves nothing behind, and a duplicate gets the
//! message stored first. Many conversations write at once, so their writes share
//! batches (on SQLite, the writer of `store/sqlite_writer.rs`; on PostgreSQL, sqlx's).

use futures_util::future::join_all;
use switchboard::actors::Opening;
use switchboard::store::{AppendOutcome, NewEvent, StoreError};
use switchboard::transcript::{MessageMeta, Role};
use switchboard::turn::Source;

use crate::support::Backend;

on_both_stores!(one_failing_write_leaves_its_batch_committed);

const CONVERSATIONS: usize = 40;
/// The demo tenant, there on every test server.
const TENANT: &str = "demo";

async fn one_failing_write_leaves_its_batch_committed(backend: Backend) {
    let node = crate::support::spawn_server(backend.config()).await;
    let tenant = node.runtime().tenant(TENANT).await.unwrap().unwrap();
    let store = node.runtime().services().store.clone();
    let mut conversations = Vec::new();
    for n in 0..CONVERSATIONS {
        let opened = tenant
            .open_conversation(Opening {
                source: Source::Webchat,
                external_user: &format!("visitor-{n}"),
                thread: None,
                preview: None,
            })
            .await
            .unwrap();
        store
            .claim_conversation(TENANT, &opened.id, 1)
            .await
            .unwrap();
        conversations.push(opened.id);
    }
    let meta = MessageMeta::NONE;
    let event = |seq, id: &'static str| NewEvent {
        seq,
        message_id: id,
        role: Role::User,
        text: "hello",
        meta: &meta,
    };
    // The first conversation has a message stored under key `seen`; the second was taken
    // by a newer owner, so a write with the old fence is refused.
    store
        .append_user_message(
            TENANT,
            &conversations[0],
            1,
            "webchat",
            "seen",
            &event(1, "first"),
        )
        .await
        .unwrap();
    store
        .claim_conversation(TENANT, &conversations[1], 2)
        .await
        .unwrap();

    let ids: Vec<&'static str> = (0..CONVERSATIONS)
        .map(|n| &*Box::leak(format!("m-{n}").into_boxed_str()))
        .collect();
    let writes = conversations.iter().enumerate().map(|(n, conversation)| {
        let store = store.clone();
        let (key, seq) = if n == 0 {
            ("seen".to_string(), 2)
        } else {
            (format!("k-{n}"), 1)
        };
        let event = event(seq, ids[n]);
        async move {
            store
                .append_user_message(TENANT, conversation, 1, "webchat", &key, &event)
                .await
        }
    });
    let outcomes = join_all(writes).await;

    match &outcomes[0] {
        Ok(AppendOutcome::Duplicate { message_id, seq }) => {
            assert_eq!((message_id.as_str(), *seq), ("first", 1));
        }
        other => panic!("the resent key is a duplicate: {other:?}"),
    }
    assert!(
        matches!(
            outcomes[1],
            Err(StoreError::Fenced {
                presented: 1,
                current: 2,
                ..
            })
        ),
        "the stale writer is refused: {:?}",
        outcomes[1]
    );
    for (n, outcome) in outcomes.iter().enumerate().skip(2) {
        assert!(
            matches!(outcome, Ok(AppendOutcome::Stored { .. })),
            "write {n}: {outcome:?}"
        );
    }
    // What the outcomes say is what the store holds.
    for (n, conversation) in conversations.iter().enumerate() {
        let stored = store
            .events_after(TENANT, conversation, 0, 10)
            .await
            .unwrap();
        let ids: Vec<&str> = stored.iter().map(|m| m.message_id.as_str()).collect();
        match n {
            0 => assert_eq!(ids, ["first"], "the duplicate stored nothing"),
            1 => assert!(ids.is_empty(), "the refused write stored nothing: {ids:?}"),
            _ => assert_eq!(ids, [format!("m-{n}")], "conversation {n}"),
        }
    }
    node.shutdown().await;
}

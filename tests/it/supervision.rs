//! A conversation actor that panics is restarted from the store; its neighbours notice
//! nothing.

use std::time::Duration;

use crate::support::{Backend, Client, spawn_server};

on_both_stores!(panicking_conversation_recovers_and_neighbours_are_unaffected);

async fn panicking_conversation_recovers_and_neighbours_are_unaffected(backend: Backend) {
    let node = spawn_server(backend.config()).await;
    let mut victim = Client::connect(node.addr()).await;
    victim.hello("demo").await;
    victim.bot_says("what's your name").await;
    victim.say("Alan").await;
    victim.bot_says("nice to meet you, alan").await;

    let mut neighbour = Client::connect(node.addr()).await;
    neighbour.hello("demo").await;
    neighbour.bot_says("what's your name").await;

    let tenant = node.runtime().tenant("demo").await.unwrap().unwrap();
    let restarts_before = tenant.stats().await.unwrap().restarts;
    tenant.inject_panic(victim.conversation_id.as_deref().unwrap());
    assert!(
        crate::support::eventually(Duration::from_secs(10), || {
            let tenant = tenant.clone();
            async move { tenant.stats().await.unwrap().restarts > restarts_before }
        })
        .await,
        "the supervisor restarts the conversation"
    );

    // The neighbour carries on while the victim restarts.
    neighbour.say("Barbara").await;
    neighbour.bot_says("nice to meet you, barbara").await;

    // The victim's conversation resumes at the state stored before the panic.
    victim.say("technical").await;
    victim.bot_says("what would you like to know").await;
    victim.assert_gap_free();

    neighbour.say("other").await;
    neighbour.bot_says("what would you like to know").await;
    neighbour.assert_gap_free();
    for client in [&victim, &neighbour] {
        assert!(
            !client.frames.iter().any(|f| f["type"] == "error"),
            "no error frame: {:#?}",
            client.frames
        );
    }
    node.shutdown().await;
}

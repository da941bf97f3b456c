//! The engine's answer to "the knowledge bases hold no answer" for an `llm` state that
//! retrieves: its `on_no_answer` state, else on along `next` (the runtime has already
//! said that it found nothing). The runtime signals it with `Event::NoAnswer` of the
//! waiting `llm` state, having called no model.

use crate::dialog::engine::Run;
use crate::dialog::flow::Action;

impl Run<'_> {
    /// The retrieval of the `llm` state `name` found nothing good enough.
    pub fn no_answer(&mut self, name: &str) {
        let flow = self.flow;
        let target = match flow.states.get(name).map(|s| &s.action) {
            Some(Action::Llm(llm)) => llm.knowledge.as_ref().map(|k| k.on_no_answer.clone()),
            _ => None,
        };
        match target {
            Some(Some(target)) => self.enter(target),
            Some(None) => self.leave(name),
            None => self.warn(format!(
                "state `{name}` does not retrieve from knowledge bases; no-answer ignored"
            )),
        }
    }
}

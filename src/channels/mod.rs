//! Channel edges: they translate a channel's wire format into the runtime's internal
//! types and back. Only web chat exists so far; WhatsApp, Slack and Teams will sit
//! beside it. The core (actors, dialog, store) never imports this module.

pub mod webchat;

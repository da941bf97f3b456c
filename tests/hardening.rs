//! Operations and hardening (issue 18): the defects that outside drills found, one module
//! per defect, each against a real node on `127.0.0.1:0`. One test binary for all of
//! them (one link step).

mod support;

#[path = "hardening/flow_compile.rs"]
mod flow_compile;
#[path = "hardening/logs.rs"]
mod logs;
#[path = "hardening/nul.rs"]
mod nul;
#[path = "hardening/openapi.rs"]
mod openapi;
#[path = "hardening/predrain.rs"]
mod predrain;
#[path = "hardening/slow_body.rs"]
mod slow_body;

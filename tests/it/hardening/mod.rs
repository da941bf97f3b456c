//! Operations and hardening (issue 18): the defects that outside drills found, one module
//! per defect, each against a real node on `127.0.0.1:0`.

mod flow_compile;
mod logs;
mod nul;
mod openapi;
mod predrain;
mod slow_body;

//! `GET /v1/ws`: upgrades to the web chat protocol; the channel edge does the rest.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::channels::webchat::{WebchatContext, socket};

pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    ctx: web::Data<WebchatContext>,
) -> Result<HttpResponse, actix_web::Error> {
    socket::serve(req, body, ctx).await
}

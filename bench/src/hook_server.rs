//! A webhook receiver's HTTP server: one worker on a free loopback port,
//! taking deliveries at `POST /hook`. One home for the benchmark's receiver
//! (receiver.rs) and the tests' (tests/api/receiver.rs includes this file).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, FromRequest, Handler, HttpServer, Responder};

/// The server, not yet running, whose `POST /hook` is `receive` with
/// `state` as its data; and that route's URL.
pub fn hook_server<S, F, Args>(state: Arc<S>, receive: F) -> std::io::Result<(Server, String)>
where
    S: Send + Sync + 'static,
    F: Handler<Args> + Send,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(receive.clone()))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok((server, format!("http://127.0.0.1:{port}/hook")))
}

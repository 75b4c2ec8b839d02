//! Dev mode answers only requests addressed to a loopback name. Listening on
//! loopback keeps other machines out, but a web page can still point a name of
//! its own at 127.0.0.1 (DNS rebinding) and read the answers, dev tokens
//! included; such a request carries that name in `Host`, and is refused.

use std::net::{Ipv4Addr, Ipv6Addr};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use super::problem::ApiError;

/// Middleware (dev mode only): a request whose `Host`, and target authority if
/// it names one, is not a loopback name gets a 403 problem.
pub async fn require_loopback_host(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let authority = req.uri().authority().map(|a| a.as_str());
    if host.is_some_and(is_loopback) && authority.is_none_or(is_loopback) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refused = ApiError::Forbidden(
        "dev mode answers only requests to localhost, 127.0.0.0/8 or [::1] (see the Host header)",
    )
    .error_response();
    Ok(req.into_response(refused).map_into_right_body())
}

/// `localhost`, an address of 127.0.0.0/8 or `[::1]`, with or without a port.
pub fn is_loopback(host: &str) -> bool {
    let (name_is_loopback, port) = if let Some(bracketed) = host.strip_prefix('[') {
        let Some((v6, port)) = bracketed.split_once(']') else {
            return false;
        };
        (
            v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback()),
            port,
        )
    } else {
        let (name, port) = host.find(':').map_or((host, ""), |at| host.split_at(at));
        let loopback = name.eq_ignore_ascii_case("localhost")
            || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
        (loopback, port)
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|digits| {
            digits.bytes().all(|b| b.is_ascii_digit()) && digits.parse::<u16>().is_ok()
        });
    name_is_loopback && port_ok
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_names_with_or_without_a_port() {
        for host in [
            "localhost",
            "LocalHost:8080",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.4.5.6:1",
            "[::1]",
            "[::1]:8080",
            "[0:0:0:0:0:0:0:1]:80",
        ] {
            assert!(is_loopback(host), "{host}");
        }
    }

    #[test]
    fn any_other_name_is_not() {
        for host in [
            "",
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "127.0.0.1:8080:1",
            "127.0.0.1:",
            "127.0.0.1:port",
            "127.1",
            "0x7f.0.0.1",
            "0.0.0.0",
            "10.0.0.1",
            "[::]",
            "[::1",
            "[::1]x",
            "[::ffff:8.8.8.8]",
            "::1",
            "localhost:123456",
            "localhost:+80",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}

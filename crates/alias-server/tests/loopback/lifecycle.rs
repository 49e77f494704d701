//! Starting and stopping: the handle's shutdown, explicit or by drop.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use alias_server::{Server, StartError};

use crate::common::track_alias;

#[test]
fn shutdown_frees_the_port_promptly_despite_idle_connections() {
    let server = Server::start().unwrap();
    let addr = server.addr();
    assert_eq!(server.url(), format!("http://{addr}"));
    // A kept-alive connection from a finished request, and one that never sent anything.
    track_alias(&server, "a", "b");
    let _idle = TcpStream::connect(addr).unwrap();
    let started = Instant::now();
    server.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(TcpStream::connect(addr).is_err(), "still listening");
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let server = Server::start().unwrap();
    let addr = server.addr();
    drop(server);
    assert!(TcpStream::connect(addr).is_err(), "still listening");
}

#[test]
fn a_taken_address_is_an_error_of_start() {
    let first = Server::start().unwrap();
    let error = Server::builder().addr(first.addr()).start().unwrap_err();
    assert!(
        matches!(&error, StartError::Bind { addr, .. } if *addr == first.addr()),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen on {}", first.addr()))
    );
}

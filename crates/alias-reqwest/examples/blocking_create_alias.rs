//! Links one alias to a distinct_id through the blocking client (feature `blocking`).
//!
//! ```sh
//! cargo run -p alias-reqwest --features blocking --example blocking_create_alias -- \
//!     BASE_URL TOKEN DISTINCT_ID ALIAS
//! ```
//!
//! `BASE_URL` is `https://api.mixpanel.com` (or `-eu`, `-in`), a proxy, or a test server;
//! plain `http` is accepted for loopback hosts only.

use std::process::ExitCode;

use alias_reqwest::alias_core::{Alias, ApiHost, Config, DistinctId, Token};
use alias_reqwest::blocking::Client;

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("alias created");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let [base_url, token, distinct_id, alias] = args()?;
    let config = Config::builder(Token::new(token)?)
        .api_host(ApiHost::custom(&base_url)?)
        .build();
    let client = Client::new(config)?;
    client.create_alias(DistinctId::new(distinct_id)?, Alias::new(alias)?)?;
    Ok(())
}

fn args() -> Result<[String; 4], String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.try_into()
        .map_err(|_| "usage: blocking_create_alias BASE_URL TOKEN DISTINCT_ID ALIAS".to_owned())
}

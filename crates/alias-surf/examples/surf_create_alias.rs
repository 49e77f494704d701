//! Links one alias to a distinct_id through surf.
//!
//! ```sh
//! cargo run -p alias-surf --example surf_create_alias -- BASE_URL TOKEN DISTINCT_ID ALIAS
//! # e.g. against a local alias-server:
//! cargo run -p alias-surf --example surf_create_alias -- http://127.0.0.1:8080 my-token anon-1 user-1
//! ```
//!
//! `BASE_URL` is `https://api.mixpanel.com` (or `-eu`, `-in`), a proxy, or a test server;
//! plain `http` is accepted for loopback hosts only.

use alias_surf::{Alias, ApiHost, Client, Config, DistinctId, Token};

#[async_std::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, token, distinct_id, alias]: [String; 4] = args
        .try_into()
        .map_err(|_| "usage: surf_create_alias BASE_URL TOKEN DISTINCT_ID ALIAS")?;
    let config = Config::builder(Token::new(token)?)
        .api_host(ApiHost::custom(&base_url)?)
        .build();
    let client = Client::new(config)?;
    client
        .create_alias(DistinctId::new(distinct_id)?, Alias::new(alias)?)
        .await?;
    // Accepted for ingestion: Mixpanel merges later, and records a refused merge as
    // `$failure_reason` on the stored event.
    println!("accepted");
    Ok(())
}

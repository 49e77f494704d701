//! Links the `DISTINCT_ID ALIAS` pairs of standard input (one pair a line) through surf, in
//! batches, and prints what became of each.
//!
//! ```sh
//! printf 'anon-1 user-1\nanon-2 user-2\n' |
//!   cargo run -p alias-surf --example surf_send_many -- BASE_URL TOKEN
//! # e.g. against a local alias-server:
//! printf 'anon-1 user-1\nanon-2 user-2\n' |
//!   cargo run -p alias-surf --example surf_send_many -- http://127.0.0.1:8080 my-token
//! ```
//!
//! `BASE_URL` is `https://api.mixpanel.com` (or `-eu`, `-in`), a proxy, or a test server;
//! plain `http` is accepted for loopback hosts only.

use std::io::BufRead;

use alias_surf::{AliasOutcome, ApiHost, Client, Config, CreateAlias, Token};

#[async_std::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, token]: [String; 2] = args
        .try_into()
        .map_err(|_| "usage: surf_send_many BASE_URL TOKEN < PAIRS")?;
    let config = Config::builder(Token::new(token)?)
        .api_host(ApiHost::custom(&base_url)?)
        .build();
    let client = Client::new(config)?;

    let mut aliases = Vec::new();
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        let Some((distinct_id, alias)) = line.split_once(char::is_whitespace) else {
            return Err(format!("line {}: expected `DISTINCT_ID ALIAS`", number + 1).into());
        };
        aliases.push(CreateAlias::from_ids(distinct_id, alias.trim())?);
    }

    let report = client.send(aliases).await;
    for entry in &report.entries {
        let ids = format!("{} -> {}", entry.alias.alias(), entry.alias.distinct_id());
        match &entry.outcome {
            // Accepted for ingestion: Mixpanel merges later, and records a refused merge
            // as `$failure_reason` on the stored event.
            AliasOutcome::Accepted => println!("accepted     {ids}"),
            AliasOutcome::Rejected(rejection) => println!("rejected     {ids}: {rejection}"),
            AliasOutcome::Invalid(error) => println!("invalid      {ids}: {error}"),
            // Kept with its stamps: sending it again later deduplicates against this try.
            AliasOutcome::Undelivered(undelivered) => {
                println!("undelivered  {ids}: {}", undelivered.last_error)
            }
        }
    }
    let tally = report.tally();
    println!(
        "{} accepted, {} rejected, {} invalid, {} undelivered ({} requests)",
        tally.accepted, tally.rejected, tally.invalid, tally.undelivered, report.stats.requests
    );
    Ok(())
}

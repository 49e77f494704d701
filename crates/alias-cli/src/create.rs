//! `mixpanel-alias create`: one alias, one line saying what happened.

use std::process::ExitCode;
use std::time::UNIX_EPOCH;

use alias_core::{
    AliasOutcome, CreateAlias, DeliveryError, InsertId, ValidationError, delivery::ReportEntry,
    delivery::Undelivered, wire::Field, wire::event_time,
};

use crate::console;
use crate::exit::{self, UsageError};
use crate::options::CommonArgs;
use crate::outcome;
use crate::sender::Sender;

/// Link one new id to an existing one.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The existing id (properties.distinct_id).
    #[arg(long, value_name = "ID")]
    distinct_id: String,

    /// The new id that Mixpanel will read as the existing one (properties.alias).
    #[arg(long, value_name = "NEW")]
    alias: String,

    /// The event time, in seconds or milliseconds since the Unix epoch. Default: chosen
    /// when sending (never ahead of Mixpanel's clock). Give the time an earlier attempt
    /// printed to send the same event again.
    #[arg(long, value_name = "EPOCH")]
    time: Option<String>,

    /// The event's $insert_id (up to 36 letters, digits and '-'). Default: derived from
    /// the two ids. Give the one an earlier attempt printed to send the same event again.
    #[arg(long, value_name = "ID")]
    insert_id: Option<String>,

    #[command(flatten)]
    common: CommonArgs,
}

/// Runs the command: exit 0 when the alias was accepted.
pub(crate) fn run(args: &Args) -> Result<ExitCode, UsageError> {
    let link = resend_as(
        CreateAlias::from_ids(&args.distinct_id, &args.alias).map_err(id_error)?,
        args,
    )?;
    let settings = args.common.settings(None)?;
    let dry_run = settings.dry_run;
    let sender = Sender::new(settings)?;
    tracing::debug!(config = ?sender.config(), "sending one alias");
    let mut result = None;
    let mut sent = None;
    sender.send_stream(
        futures_util::stream::iter([link]),
        std::future::pending(),
        std::sync::mpsc::channel(),
        |event: Option<ReportEntry>| {
            if let Some(entry) = event {
                result = Some(entry.outcome);
                sent = Some(entry.alias);
            }
        },
    );
    // The delivery settles every alias it is given; an alias it did not report on was not
    // delivered.
    let outcome = result.unwrap_or(AliasOutcome::Undelivered(Undelivered {
        attempts: 0,
        last_error: DeliveryError::Abandoned,
    }));
    let pair = format!(
        "alias {:?} -> distinct_id {:?}",
        args.alias, args.distinct_id
    );
    if dry_run {
        // The printer accepts whatever it could print.
        match outcome::detail(&outcome) {
            None => console::result(&format!("dry run: {pair} printed above, nothing sent")),
            Some(detail) => console::message(&format!(
                "error: dry run: cannot print the request of {pair}: {detail}; nothing was sent"
            )),
        }
        return Ok(exit::of_run(outcome.is_accepted()));
    }
    let kind = outcome::kind(&outcome);
    console::result(&match outcome::detail(&outcome) {
        // Mixpanel answers before it merges: say what an acceptance means, and where a
        // refused merge shows.
        None => format!(
            "accepted for ingestion: {pair} (Mixpanel merges later; a merge it refuses shows \
             as $failure_reason on the stored event)"
        ),
        Some(detail) => {
            let advice = match (&outcome, sent.as_ref().and_then(resend_flags)) {
                // A copy may have arrived: only the same time and $insert_id let Mixpanel
                // drop it (`docs/mixpanel-facts.md` §8), and a new run would choose a new
                // time.
                (AliasOutcome::Undelivered(_), Some(flags)) => format!(
                    "send it again later with the same ids and {flags}: the same time and \
                     $insert_id let Mixpanel drop a copy that did arrive"
                ),
                _ => outcome::advice(&outcome).to_owned(),
            };
            format!("{kind}: {pair}: {detail}; {advice}")
        }
    });
    Ok(exit::of_run(outcome.is_accepted()))
}

/// The alias with the time and `$insert_id` given on the command line, if any.
fn resend_as(mut link: CreateAlias, args: &Args) -> Result<CreateAlias, UsageError> {
    if let Some(text) = &args.time {
        let time = event_time(&serde_json::Value::String(text.clone())).ok_or_else(|| {
            UsageError::new(format!(
                "--time: {text:?} is not a time: give seconds or milliseconds since the Unix epoch"
            ))
        })?;
        link = link
            .with_time(time)
            .map_err(|e| UsageError::new(format!("--time: {e}")))?;
    }
    if let Some(text) = &args.insert_id {
        let insert_id = InsertId::new(text.as_str())
            .map_err(|e| UsageError::new(format!("--insert-id: {e}")))?;
        link = link.with_insert_id(insert_id);
    }
    Ok(link)
}

/// The flags that send `sent` again as the same event: its time (milliseconds) and
/// `$insert_id`, when it had both.
fn resend_flags(sent: &CreateAlias) -> Option<String> {
    let millis = sent
        .time()?
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Some(format!(
        "--time {millis} --insert-id {}",
        sent.insert_id()?.as_str()
    ))
}

/// An id argument that Mixpanel would refuse is a usage error naming its flag.
fn id_error(error: ValidationError) -> UsageError {
    let flag = match error.field {
        Field::DistinctId => "--distinct-id",
        _ => "--alias",
    };
    UsageError::new(format!("{flag}: {error}; pass the real id of the user"))
}

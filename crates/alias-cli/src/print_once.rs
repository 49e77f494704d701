//! A dry run's transport prints each request on standard output instead of sending it. A
//! print that fails (standard output closed or full) fails again on every try, and the
//! retry policy would wait minutes between tries: a dry run tries each request once.

use alias_core::RetryPolicy;

use crate::options::Settings;

/// `settings`, with a single attempt per request when they are a dry run's.
pub(crate) fn when_dry_run(mut settings: Settings) -> Settings {
    if settings.dry_run {
        let once = RetryPolicy {
            max_attempts: 1,
            ..settings.config.retry().clone()
        };
        settings.config = settings.config.retry_policy(once);
    }
    settings
}

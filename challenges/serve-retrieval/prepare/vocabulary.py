"""The knowledge base's vocabulary, all written for this challenge: name syllables, components,
teams, filler, and the operational topics with their document-side wording and their
question-side paraphrases.

A topic's paraphrases say what an engineer would type, with synonyms that share few words with
the document's wording ("renew certs that lapsed" for "rotating expired TLS certificates").
That is what separates lexical from semantic retrieval here: a question names its product
(found by words) and describes its topic in other words (found by meaning).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """One operational how-to or failure mode: ``title`` and ``sentences`` are the documents'
    wording; ``paraphrases`` are verb phrases a question uses instead."""

    key: str
    title: str
    sentences: tuple[str, ...]
    paraphrases: tuple[str, ...]
    setting: str


ONSETS = (
    "b",
    "d",
    "f",
    "g",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "dr",
    "kr",
    "tr",
    "vr",
    "zh",
    "qu",
    "th",
    "sk",
    "pl",
)
VOWELS = ("a", "e", "i", "o", "u", "ae", "ei", "ou", "y")
CODAS = ("", "n", "r", "x", "th", "l", "sk", "nd", "rt", "m")
ENDINGS = ("ix", "ant", "ora", "eon", "ulf", "ari", "osk", "enth", "ique", "ax", "iel", "oth")
"""Names are built as onset+vowel+coda, onset+vowel, ending: invented, pronounceable, and the
endings keep them away from English words."""

COMPONENTS = (
    "gateway",
    "scheduler",
    "ingest pipeline",
    "feature store",
    "model registry",
    "message broker",
    "object store",
    "metrics agent",
    "auth service",
    "search cluster",
    "config service",
    "job runner",
    "cache tier",
    "notification service",
    "billing engine",
    "data warehouse loader",
)

TEAMS = (
    "Platform",
    "Core Infra",
    "Data Plumbing",
    "ML Serving",
    "Storage",
    "Edge",
    "Observability",
    "Identity",
    "Payments Infra",
    "Release Engineering",
    "Search",
    "Streaming",
    "Developer Experience",
    "Reliability",
    "Compute",
)

FILLER = (
    "Page the owning team if the steps below do not settle the problem within an hour.",
    "Record what you changed in the change log so the next on-call engineer can follow it.",
    "Staging mirrors production closely enough to rehearse every step first.",
    "The dashboards linked from the service page show whether the change took effect.",
    "Most of these steps are safe to repeat; the ones that are not say so.",
    "Keep the incident channel updated while you work through this runbook.",
    "This page was last reviewed during the quarterly runbook audit.",
    "Ask in the team channel before touching shared environments.",
    "If you are unsure, pair with someone who has done this before.",
    "The service page lists the escalation contacts for weekends and holidays.",
    "Automation covers the common case; the manual path is documented for emergencies.",
    "Link the ticket that triggered this work in your pull request.",
    "Every command here assumes you are logged in to the bastion host.",
    "Expect a short period of elevated error budgets burn while this is applied.",
    "Screenshots in older versions of this page may not match the current console.",
    "Write a short note in the weekly operations review if this happened more than once.",
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        "tls",
        "Rotating expired TLS certificates",
        (
            "When a TLS certificate expires, clients fail the handshake and connections are "
            "refused.",
            "Issue a new certificate from the internal authority, deploy it to every listener and "
            "reload.",
        ),
        (
            "renew certs that lapsed",
            "swap in fresh certs because https stopped working",
            "replace an out of date SSL cert",
        ),
        "tls.cert_path",
    ),
    Topic(
        "coldstart",
        "Reducing cold-start latency",
        (
            "The first requests after a deploy are slow because caches are empty and code is not "
            "warmed.",
            "Preload hot data and send synthetic warm-up traffic before the instance takes real "
            "load.",
        ),
        (
            "speed up initial responses of a freshly started node",
            "make a newly booted server answer fast from the start",
            "make the first calls after boot faster",
        ),
        "warmup.requests",
    ),
    Topic(
        "reindex",
        "Rebuilding a corrupted search index",
        (
            "A corrupted index returns missing or garbled hits and logs checksum failures.",
            "Drop the damaged segments and rebuild the index from the source of truth, then swap "
            "aliases.",
        ),
        (
            "recreate a broken lookup table for queries from scratch",
            "fix a damaged full-text catalogue that gives wrong matches",
            "reconstruct an inverted index that became unreadable",
        ),
        "index.rebuild_batch",
    ),
    Topic(
        "disk",
        "Handling a full disk",
        (
            "When the disk fills up, writes fail and the process may crash on startup.",
            "Clear old logs and temporary files, then add a retention policy and an alert on "
            "usage.",
        ),
        (
            "clean up when the filesystem has no room left",
            "recover after the drive hit one hundred percent",
            "deal with no space left on device errors",
        ),
        "storage.retention_days",
    ),
    Topic(
        "memleak",
        "Diagnosing a memory leak",
        (
            "Resident memory grows steadily until the kernel kills the process.",
            "Take heap snapshots an hour apart and compare which object types keep growing.",
        ),
        (
            "find out why RAM usage keeps climbing",
            "stop the OOM killer from terminating it every few days",
            "track down what eats up heap over time",
        ),
        "heap.snapshot_interval",
    ),
    Topic(
        "ratelimit",
        "Tuning rate limits",
        (
            "Rate limits protect the backend from bursts but can reject legitimate clients.",
            "Raise the token bucket size for trusted callers and return a retry-after header.",
        ),
        (
            "change how many calls per second a client is allowed",
            "loosen request quotas for busy customers",
            "adjust throttling so callers stop getting 429s",
        ),
        "limits.bucket_size",
    ),
    Topic(
        "dbfailover",
        "Failing over the primary database",
        (
            "If the primary database becomes unavailable, writes stop until a replica is promoted.",
            "Promote the most up-to-date replica, repoint the connection string and fence the old "
            "primary.",
        ),
        (
            "switch to a standby when the main SQL node dies",
            "promote a secondary after the master crashed",
            "switch over to a standby when the main SQL server dies",
        ),
        "db.failover_timeout",
    ),
    Topic(
        "logrotation",
        "Configuring log rotation",
        (
            "Without log rotation, log files grow without bound and slow down every search "
            "through them.",
            "Rotate daily, compress old files and keep fourteen days.",
        ),
        (
            "stop logfiles from growing forever",
            "trim huge logs automatically",
            "stop output files from getting huge",
        ),
        "logging.rotate_days",
    ),
    Topic(
        "deadlock",
        "Resolving deadlocks in transactions",
        (
            "Two transactions waiting on each other's locks hang until one is aborted.",
            "Acquire rows in a consistent order and keep transactions short.",
        ),
        (
            "stop concurrent database writes from blocking forever",
            "stop concurrent writes from blocking forever",
            "untangle a locking cycle between concurrent updates",
        ),
        "db.lock_timeout",
    ),
    Topic(
        "secrets",
        "Rotating leaked credentials",
        (
            "A leaked credential must be revoked at once and replaced everywhere it is used.",
            "Generate a new secret in the vault, update the deployments, then revoke the old one.",
        ),
        (
            "change a password or API key that got exposed",
            "replace a token that got published by accident",
            "respond when a token was committed to git",
        ),
        "vault.secret_path",
    ),
    Topic(
        "dns",
        "Troubleshooting DNS resolution failures",
        (
            "When DNS resolution fails, services cannot find each other and report unknown host "
            "errors.",
            "Check the resolver configuration, the record's time to live and the upstream name "
            "servers.",
        ),
        (
            "debug lookups of internal hostnames failing",
            "figure out why domain lookups hang",
            "fix hostnames that don't resolve",
        ),
        "dns.resolver",
    ),
    Topic(
        "clockskew",
        "Fixing clock skew between hosts",
        (
            "Clock skew between hosts breaks token validation, expires sessions early and orders "
            "events wrongly.",
            "Make sure every host runs the time synchronisation daemon against the same servers.",
        ),
        (
            "correct wrong timestamps caused by unsynchronized nodes",
            "sync system clocks that drifted across machines",
            "sync system time that drifted across machines",
        ),
        "ntp.servers",
    ),
    Topic(
        "backpressure",
        "Applying backpressure to a queue consumer",
        (
            "A consumer that cannot keep up lets the queue grow until memory runs out.",
            "Bound the in-flight work, pause fetching when the buffer is full and scale consumers.",
        ),
        (
            "throttle message intake when buffers overflow",
            "throttle producers when downstream lags",
            "slow down producers when the consumer falls behind",
        ),
        "consumer.max_inflight",
    ),
    Topic(
        "rollback",
        "Rolling back a bad deployment",
        (
            "A bad release shows up as a spike in errors right after the deploy.",
            "Redeploy the previous release tag and freeze further deploys until the cause is "
            "known.",
        ),
        (
            "undo a release that broke things",
            "revert to the prior version after a broken rollout",
            "go back to the last good version quickly",
        ),
        "deploy.previous_tag",
    ),
    Topic(
        "schema",
        "Migrating a database schema without downtime",
        (
            "Schema changes that lock large tables stall every query against them.",
            "Add new columns as nullable, backfill in batches, then switch reads and drop the old "
            "column.",
        ),
        (
            "alter tables while the app stays online",
            "change column layout with zero interruption",
            "evolve the data model live",
        ),
        "migrations.batch_size",
    ),
    Topic(
        "flaky",
        "Stabilising flaky integration tests",
        (
            "Flaky integration tests pass and fail on the same commit and erode trust in the "
            "build.",
            "Remove shared state between tests, replace sleeps with explicit waits and quarantine "
            "the rest.",
        ),
        (
            "stop nondeterministic test suite failures",
            "fix unreliable tests that randomly fail",
            "make intermittent CI tests reliable",
        ),
        "ci.retries",
    ),
    Topic(
        "hotpartition",
        "Splitting a hot partition",
        (
            "One partition receiving most of the traffic becomes the bottleneck for the whole "
            "table.",
            "Add a salt to the partition key or split the key range so load spreads evenly.",
        ),
        (
            "reshard when a single key gets hammered",
            "rebalance when a single tenant's rows get hammered",
            "spread skewed traffic off one hot shard",
        ),
        "partition.salt_buckets",
    ),
    Topic(
        "gpu",
        "Recovering from GPU out-of-memory errors",
        (
            "Large batches exhaust accelerator memory and the worker aborts with an allocation "
            "error.",
            "Lower the batch size, enable gradient checkpointing and free cached allocations "
            "between jobs.",
        ),
        (
            "fix CUDA OOM crashes while fitting a neural net",
            "fix CUDA crashes while fitting a neural net",
            "squeeze a training run onto a card with too little VRAM",
        ),
        "gpu.max_batch",
    ),
    Topic(
        "drift",
        "Detecting data drift in model inputs",
        (
            "Input distributions shift over time and model accuracy silently degrades.",
            "Compare live feature histograms with the training set and alert on population "
            "stability.",
        ),
        (
            "monitor for shifting statistics in prediction requests",
            "notice when incoming attributes differ from what we trained on",
            "catch distribution shift in production features",
        ),
        "drift.psi_threshold",
    ),
    Topic(
        "cors",
        "Fixing CORS errors in the browser",
        (
            "Browsers block cross-origin calls when the server does not send the allow-origin "
            "header.",
            "List the front-end origins in the allowed origins setting and answer preflight "
            "requests.",
        ),
        (
            "let the web frontend call the API from another domain",
            "permit requests from a different site",
            "stop web pages failing on cross-domain fetches",
        ),
        "http.allowed_origins",
    ),
    Topic(
        "cachestampede",
        "Preventing cache stampedes",
        (
            "When a popular cache entry expires, thousands of requests hit the database at once.",
            "Refresh entries early with jitter and let only one request recompute a missing value.",
        ),
        (
            "avoid a thundering herd when a hot cached key expires",
            "protect the backing store from a burst of misses",
            "protect postgres from a burst of cache misses",
        ),
        "cache.early_refresh",
    ),
    Topic(
        "ssh",
        "Restoring SSH access to a host",
        (
            "Lost SSH access usually means a rotated key, a full disk or a firewall change.",
            "Use the serial console to check the authorized keys file and the firewall rules.",
        ),
        (
            "regain a remote shell on a server",
            "get back into a machine I'm locked out of",
            "log in again after the ssh connection is refused",
        ),
        "access.bastion",
    ),
    Topic(
        "cost",
        "Cutting cloud compute costs",
        (
            "Idle and oversized instances make up most of the avoidable compute bill.",
            "Right-size instances from utilisation data, use spot capacity for batch work and "
            "schedule shutdowns.",
        ),
        (
            "spend less on virtual machines",
            "trim wasteful spending on infrastructure",
            "lower the monthly invoice for servers",
        ),
        "budget.monthly_cap",
    ),
    Topic(
        "kafkalag",
        "Reducing consumer lag on a stream",
        (
            "Consumer lag grows when processing is slower than the rate of incoming events.",
            "Add partitions and consumers, and batch commits of offsets.",
        ),
        (
            "catch up a reader that is far behind the topic",
            "catch up a consumer that is far behind the topic",
            "speed up event consumers falling behind",
        ),
        "stream.consumer_count",
    ),
    Topic(
        "healthcheck",
        "Writing meaningful health checks",
        (
            "A health check that always returns ok hides real failures from the load balancer.",
            "Check the dependencies the instance needs and report unready until they answer.",
        ),
        (
            "design a status endpoint that reflects genuine problems",
            "make liveness and readiness probes tell the truth",
            "have the balancer skip broken replicas",
        ),
        "probe.readiness_path",
    ),
    Topic(
        "tracing",
        "Adding distributed tracing",
        (
            "Without tracing, a slow request across several services cannot be attributed to one "
            "of them.",
            "Propagate the trace context in headers and export spans to the collector.",
        ),
        (
            "follow one call through many microservices",
            "see where latency goes across a chain of service calls",
            "follow one request through many microservices",
        ),
        "tracing.sample_rate",
    ),
    Topic(
        "autoscaling",
        "Tuning autoscaling thresholds",
        (
            "Autoscaling that reacts too late lets latency spike; too eagerly, it wastes capacity.",
            "Scale on request concurrency rather than processor use, with a cool-down period.",
        ),
        (
            "tune when the autoscaler launches extra instances",
            "make the cluster add replicas sooner under load",
            "make the cluster add machines sooner under load",
        ),
        "autoscale.target",
    ),
    Topic(
        "backup",
        "Restoring from a backup",
        (
            "Backups are only useful if a restore has been rehearsed and timed.",
            "Restore the latest snapshot to a new instance, verify row counts, then switch "
            "traffic.",
        ),
        (
            "recover lost records from an archive copy",
            "get yesterday's state of the tables back",
            "bring data back from last night's snapshot",
        ),
        "backup.snapshot_bucket",
    ),
    Topic(
        "slowquery",
        "Speeding up slow queries",
        (
            "Slow queries usually scan whole tables because an index is missing.",
            "Read the query plan, add the missing index and avoid functions on indexed columns.",
        ),
        (
            "optimise lookups that do full table scans",
            "make a sluggish SQL statement run quicker",
            "optimise lookups that do sequential scans",
        ),
        "db.statement_timeout",
    ),
    Topic(
        "connpool",
        "Sizing the connection pool",
        (
            "An exhausted connection pool makes requests wait and then time out.",
            "Size the pool to the database's limit divided by instances and release connections "
            "promptly.",
        ),
        (
            "pick how many postgres connections to keep open",
            "stop running out of database connections",
            "fix requests stuck waiting for a free db connection",
        ),
        "db.pool_size",
    ),
    Topic(
        "featureflag",
        "Cleaning up stale feature flags",
        (
            "Stale feature flags leave dead branches in the code and make behaviour hard to "
            "predict.",
            "List flags fully rolled out for a month, remove their checks and delete them.",
        ),
        (
            "remove toggles nobody uses anymore",
            "retire feature switches after rollout",
            "retire launch darkly style toggles after rollout",
        ),
        "flags.max_age_days",
    ),
    Topic(
        "oncall",
        "Handing over the on-call rotation",
        (
            "A poor handover means the next on-call engineer rediscovers open problems at night.",
            "Write down open incidents, pending changes and noisy alerts before the shift ends.",
        ),
        (
            "handoff pager duty at the end of the week",
            "pass the pager to the next person properly",
            "brief whoever takes over the pager",
        ),
        "oncall.handover_doc",
    ),
    Topic(
        "alertnoise",
        "Reducing noisy alerts",
        (
            "Alerts that fire without action needed train people to ignore the pager.",
            "Alert on user-facing symptoms, delete alerts nobody acted on and add sensible delays.",
        ),
        (
            "silence pointless notifications",
            "cut down pages that wake people for nothing",
            "fix monitoring alarms that fire too often",
        ),
        "alerts.min_duration",
    ),
    Topic(
        "dependency",
        "Upgrading a vulnerable dependency",
        (
            "A vulnerable library version exposes the service to a published exploit.",
            "Bump the library to the patched release, run the test suite and redeploy.",
        ),
        (
            "patch a third-party package with a CVE",
            "update an insecure package we rely on",
            "fix a security advisory in our requirements",
        ),
        "deps.lockfile",
    ),
    Topic(
        "containers",
        "Shrinking container images",
        (
            "Large container images slow down every deploy and every scale-up.",
            "Use a slim base, a multi-stage build and drop build tools from the final layer.",
        ),
        (
            "make docker builds produce smaller artifacts",
            "reduce how many megabytes get pulled per pod",
            "trim bloated artifacts we ship",
        ),
        "build.base_image",
    ),
    Topic(
        "timeouts",
        "Setting client timeouts and retries",
        (
            "Calls without timeouts hang forever when a dependency stalls, and retries without "
            "backoff amplify outages.",
            "Set a deadline on every call and retry idempotent ones with exponential backoff and "
            "jitter.",
        ),
        (
            "configure reattempts so they don't make an outage worse",
            "configure retries so they don't make an outage worse",
            "stop calls hanging when a downstream freezes",
        ),
        "client.deadline_ms",
    ),
    Topic(
        "gc",
        "Reducing garbage collection pauses",
        (
            "Long garbage collection pauses show up as latency spikes at regular intervals.",
            "Cut allocation in hot paths, size the heap generously and pick a low-pause collector.",
        ),
        (
            "lower jitter caused by automatic memory cleanup",
            "fix stop-the-world GC pauses in the JVM",
            "reduce hiccups from the memory collector",
        ),
        "runtime.gc_mode",
    ),
    Topic(
        "permissions",
        "Fixing permission denied errors",
        (
            "Permission denied errors come from a missing role binding or a file owned by another "
            "user.",
            "Check which identity the process runs as and grant the narrowest role that works.",
        ),
        (
            "give the workload the rights it lacks",
            "sort out access refused messages",
            "give the workload the access rights it lacks",
        ),
        "iam.role",
    ),
    Topic(
        "webhook",
        "Debugging failed webhook deliveries",
        (
            "Webhook deliveries fail when the receiver is slow, returns errors or rejects the "
            "signature.",
            "Inspect the delivery log, verify the signing secret and make the receiver answer "
            "quickly.",
        ),
        (
            "troubleshoot HTTP callbacks to a customer endpoint",
            "find out why callbacks to partners aren't arriving",
            "troubleshoot HTTP pushes to a customer endpoint",
        ),
        "webhooks.signing_secret",
    ),
    Topic(
        "batchjob",
        "Recovering a stuck nightly batch job",
        (
            "A nightly batch job that hangs holds up every report that depends on it.",
            "Find the stalled step in the job history, kill it and resume from the last "
            "checkpoint.",
        ),
        (
            "restart an overnight ETL job that froze",
            "unblock the scheduled batch run that never finished",
            "continue a periodic data crunch that got wedged",
        ),
        "jobs.checkpoint_dir",
    ),
)

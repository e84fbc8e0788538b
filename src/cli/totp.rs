//! Two-factor sign-in's commands (CLI.md "The access gate"): `totp enroll`,
//! `totp confirm`, `totp reset`.

use std::io::IsTerminal;

use clap::Subcommand;

use crate::gate::{done, Now};
use crate::records::Actor;
use crate::{output, Global, Outcome};

#[derive(Subcommand)]
pub enum TotpCommand {
    /// A new secret: prints it and its otpauth:// URI (a QR code on a terminal).
    Enroll {
        email: String,
        #[command(flatten)]
        now: Now,
    },
    /// Confirm with a first code: prints the 10 recovery codes, shown once.
    Confirm {
        email: String,
        #[arg(long)]
        code: String,
        #[command(flatten)]
        now: Now,
    },
    /// Remove a user's second factor (admins only); ends their sessions.
    Reset {
        #[command(flatten)]
        actor: Actor,
        #[arg(id = "target", value_name = "U2")]
        user: u64,
        #[command(flatten)]
        now: Now,
    },
}

pub fn run(g: &Global, c: TotpCommand) -> Outcome {
    match c {
        TotpCommand::Enroll { email, now } => {
            let e = g.store()?.operator().totp_enroll(&email, now.get()?)?;
            if g.json {
                return done(
                    g,
                    serde_json::json!({ "secret": e.secret, "uri": e.uri }),
                    "",
                );
            }
            output::line(format!("secret {}\nuri    {}", e.secret, e.uri))?;
            if std::io::stdout().is_terminal() {
                if let Ok(qr) = qrcode::QrCode::new(e.uri.as_bytes()) {
                    let art = qr
                        .render::<qrcode::render::unicode::Dense1x2>()
                        .quiet_zone(true)
                        .build();
                    output::line(art)?;
                }
            }
            output::line("confirm with: crmstore totp confirm EMAIL --code CODE")
        }
        TotpCommand::Confirm { email, code, now } => {
            let codes = g
                .store()?
                .operator()
                .totp_confirm(&email, &code, now.get()?)?;
            let text = format!(
                "two-factor sign-in is on; recovery codes (each works once, shown only now):\n{}",
                codes.join("\n")
            );
            done(g, serde_json::json!({ "recovery_codes": codes }), &text)
        }
        TotpCommand::Reset { actor, user, now } => {
            let (store, ctx) = actor.open(g)?;
            let n = store.totp_reset(&ctx, user, now.get()?)?;
            done(
                g,
                serde_json::json!({ "user": user, "sessions_ended": n }),
                &format!("two-factor sign-in of user {user} reset; {n} session(s) ended"),
            )
        }
    }
}

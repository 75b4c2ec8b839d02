//! The forced races of SPEC invariant 13: a write held in flight while a
//! deletion of what it writes to is acknowledged, then released. The order
//! is fixed on the client side (a barrier in the request body), so the seed
//! decides it, not the scheduler: the write has passed the server's checks
//! before the deletion starts, and it ends after the deletion's answer.

use std::time::Duration;

use tokio::sync::oneshot;

use crate::actors::{Actor, Simple};
use crate::admin::{erase, Subject};
use crate::body::{multipart_bytes, streamed};
use crate::client::Ctx;
use crate::history::{DraftRef, Ident};
use crate::plan::{BodyMode, Deleter, Writer};

pub async fn race(
    actor: &Actor,
    ctx: Ctx,
    writer: Writer,
    deleter: Deleter,
    materialize_first: bool,
    size: usize,
) {
    let who = actor.ident();
    let Some(draft) = actor.create(ctx).await else {
        return;
    };
    // A trash or a permanent delete needs a course to delete.
    let needs_course = matches!(deleter, Deleter::Trash | Deleter::DeleteForever);
    if materialize_first || needs_course {
        actor
            .simple_call(ctx, &who, draft, Simple::Materialize)
            .await;
    }
    let (release, hold) = oneshot::channel();
    let write = {
        let content = actor.content(ctx.step, size);
        let who = who.clone();
        async move {
            match writer {
                Writer::Multipart => {
                    let body = streamed(
                        multipart_bytes("late.txt", &content),
                        BodyMode::Whole,
                        Some(hold),
                    );
                    actor.upload(ctx, &who, draft, &content, body).await;
                }
                Writer::TusPatch => {
                    let Some(up) = actor.tus_create(ctx, &who, draft, content.clone()).await else {
                        return;
                    };
                    let body = streamed(content.clone(), BodyMode::Whole, Some(hold));
                    actor
                        .tus_patch(ctx, &who, &up, 0, body, content.len())
                        .await;
                }
                Writer::Materialize => {
                    let _ = hold.await;
                    actor
                        .simple_call(ctx, &who, draft, Simple::Materialize)
                        .await;
                }
                Writer::Submit => {
                    let _ = hold.await;
                    actor.simple_call(ctx, &who, draft, Simple::Submit).await;
                }
            }
        }
    };
    let delete = async {
        match writer {
            // Bodiless writes cannot be held inside the server: they start
            // with the deletion, and the scheduler picks the order.
            Writer::Materialize | Writer::Submit => {
                let _ = release.send(());
                tokio::time::sleep(Duration::from_millis(ctx.step as u64 % 20)).await;
                delete(actor, ctx, &who, draft, deleter).await;
            }
            Writer::Multipart => {
                let prefix = format!("{}/{}/", draft.org, draft.course());
                actor.storage.upload_started(&prefix).await;
                delete(actor, ctx, &who, draft, deleter).await;
                let _ = release.send(());
            }
            Writer::TusPatch => {
                // The PATCH's first half is on its way once the upload
                // exists; a moment more and the server holds it.
                tokio::time::sleep(Duration::from_millis(400)).await;
                delete(actor, ctx, &who, draft, deleter).await;
                let _ = release.send(());
            }
        }
    };
    tokio::join!(write, delete);
}

async fn delete(actor: &Actor, ctx: Ctx, who: &Ident, draft: DraftRef, deleter: Deleter) {
    match deleter {
        Deleter::Discard => {
            actor.simple_call(ctx, who, draft, Simple::Discard).await;
        }
        Deleter::DeleteForever => {
            actor
                .simple_call(ctx, who, draft, Simple::DeleteForever)
                .await;
        }
        Deleter::Trash => {
            actor.simple_call(ctx, who, draft, Simple::Trash).await;
        }
        Deleter::EraseUser => {
            if erase(&actor.api, ctx, Subject::User(who.user), false)
                .await
                .answer
                .ok()
            {
                actor.people.retire_user(actor.slot(), who.user);
            }
        }
        Deleter::EraseOrg => {
            if erase(&actor.api, ctx, Subject::Org(who.org), false)
                .await
                .answer
                .ok()
            {
                actor.people.retire_org(who.org);
            }
        }
    }
}

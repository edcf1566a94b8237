//! The write rules shared by the tables keyed by member id alone (`clone_rewrite`,
//! `clone_encap`): INSERT of a new member (within the table's size), MODIFY and
//! DELETE of an existing one, the default action, no direct counter.

use super::contract::{EntryOp, Op, Table, TableError, TableId};
use super::store::{Change, MetaKey, WriteCtx};

/// How one member-keyed table is stored, for [`write`].
pub(super) struct MemberKeyed<S, A> {
    /// The table.
    pub(super) table: TableId,
    /// Its size (entries).
    pub(super) capacity: usize,
    /// Entries it holds now.
    pub(super) len: usize,
    /// Whether `member` has an entry.
    pub(super) exists: fn(&S, u16) -> bool,
    /// Checks an action's parameters.
    pub(super) check: fn(&A) -> Result<(), TableError>,
    /// Sets (`Some`) or removes (`None`) the action of a member.
    pub(super) set: fn(&mut S, u16, Option<A>),
    /// Sets the default action.
    pub(super) set_default: fn(&mut S, A),
}

/// A write to a member-keyed table `T` stored in `s`: the change to apply, or why
/// it is refused (nothing changes then).
pub(super) fn write<T, S>(
    k: MemberKeyed<S, T::Action>,
    s: &S,
    ctx: &mut WriteCtx<'_>,
    op: EntryOp<T>,
) -> Result<Option<Change<S>>, TableError>
where
    T: Table<Key = u16>,
    T::Action: Copy + Send + 'static,
    S: 'static,
{
    let table = k.table;
    let key = |m: u16| -> MetaKey { (table, u128::from(m), 0) };
    let (e, insert) = match op {
        Op::Insert(e) => (e, true),
        Op::Modify(e) => (e, false),
        Op::Delete(m) => {
            if !(k.exists)(s, m) {
                return Err(TableError::NotFound { table });
            }
            ctx.remove_meta(&key(m));
            let set = k.set;
            return Ok(Some(Box::new(move |s: &mut S| set(s, m, None))));
        }
        Op::SetDefault(a) => {
            (k.check)(&a)?;
            let set_default = k.set_default;
            return Ok(Some(Box::new(move |s: &mut S| set_default(s, a))));
        }
        Op::SetDirectCounter(..) => return Err(TableError::NotFound { table }),
    };
    let (m, a, metadata) = T::entry_parts(e);
    (k.check)(&a)?;
    if insert {
        if (k.exists)(s, m) {
            return Err(TableError::AlreadyExists { table });
        }
        if k.len >= k.capacity {
            return Err(TableError::TableFull { table, capacity: k.capacity });
        }
    } else if !(k.exists)(s, m) {
        return Err(TableError::NotFound { table });
    }
    ctx.set_meta(key(m), metadata);
    let set = k.set;
    Ok(Some(Box::new(move |s: &mut S| set(s, m, Some(a)))))
}

//! What a statement does, read from the trees PostgreSQL makes of it: the
//! analysed Query (parser/analyze.c), the PlannedStmt the executor runs
//! (nodes/plannodes.h) and a utility statement's parse tree.
//!
//! Follows query_tree_walker() and expression_tree_walker() of
//! nodes/nodeFuncs.c, ExecCheckPermissions() of executor/execMain.c for the
//! columns a plan writes, CreateCommandTag() and GetCommandLogLevel() of
//! tcop/utility.c, checked against PostgreSQL 15, 16 and 18. On 15 the
//! columns are in each RangeTblEntry; from 16 in the RTEPermissionInfo it
//! points to.

use super::Oid;
use pgrx::pg_sys;
use pgrx::pg_sys::ffi::pg_guard_ffi_boundary;
use std::ffi::{CStr, c_void};

/// What parse analysis shows of a statement and its plan no longer holds.
#[derive(Clone, Default, Debug)]
pub struct Analysed {
    /// UPDATE or DELETE with a WHERE clause of its own (row-level security
    /// adds its conditions later, in the planner).
    pub has_where: bool,
    /// Functions the statement calls by name, aggregates and window
    /// functions included, in any subquery or CTE.
    pub functions: Vec<Oid>,
    /// Relations it names, views included.
    pub relations: Vec<Oid>,
    /// The INSERT, UPDATE, DELETE and MERGE statements of its WITH clauses
    /// (data-modifying CTEs), each a statement of its own to decide.
    pub nested_writes: Vec<NestedWrite>,
    /// A MERGE's actions (INSERT, UPDATE, DELETE), sorted; DO NOTHING left
    /// out.
    pub merge_actions: Vec<Command>,
    /// The settings that decide how its date and time literals read, by
    /// name, as it was parsed with them.
    pub settings: Vec<(String, String)>,
}

/// A data-modifying CTE: `WITH d AS (DELETE FROM t RETURNING *) SELECT …`.
#[derive(Clone, Debug)]
pub struct NestedWrite {
    pub command: Command,
    /// The relations it names.
    pub relations: Vec<Oid>,
    /// The relation it writes.
    pub target: Oid,
    /// The columns it writes (attribute numbers of `target`).
    pub columns: Vec<i16>,
    /// UPDATE or DELETE with a WHERE clause of its own.
    pub has_where: bool,
}

/// The command of a statement the executor runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Command {
    Select,
    Insert,
    Update,
    Delete,
    Merge,
}

impl Command {
    pub fn tag(self) -> &'static str {
        match self {
            Command::Select => "SELECT",
            Command::Insert => "INSERT",
            Command::Update => "UPDATE",
            Command::Delete => "DELETE",
            Command::Merge => "MERGE",
        }
    }
}

/// What the plan the executor is about to run does.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub command: Command,
    /// The id parse analysis gave the statement (see hooks.rs).
    pub query_id: u64,
    /// Every relation the plan reads or writes, after views are expanded.
    pub relations: Vec<Oid>,
    /// The relations it writes.
    pub writes: Vec<Oid>,
    /// The columns it writes, by relation and attribute number.
    pub columns: Vec<(Oid, i16)>,
    /// The statement's text: its part of the query string.
    pub text: String,
    /// The values of the bind parameters the statement uses, as text (None
    /// for NULL), by number: they are not in its text.
    pub parameters: Vec<(i32, Option<String>)>,
    /// A relation under row-level security that the plan reads or writes as
    /// a role that bypasses it (a view's owner, a SECURITY DEFINER
    /// function's, or SET ROLE's), with that role.
    pub read_bypassing_rls: Option<(Oid, Oid)>,
}

/// A utility statement (DDL, COPY, SET …).
#[derive(Debug)]
pub struct Utility {
    /// The command tag, e.g. "CREATE TABLE".
    pub tag: String,
    /// Logged by log_statement = 'ddl'.
    pub is_ddl: bool,
    /// COPY of a table: the table, and whether it is written (COPY FROM).
    pub copy: Option<(Option<Oid>, bool)>,
    /// A TRUNCATE that empties rows row-level security hides from this
    /// session (TRUNCATE ignores it), or that cascades to tables it does not
    /// name.
    pub truncates_hidden_rows: bool,
    /// A statement that may run before the transaction has a tenant: it
    /// reads and writes nothing outside the session and runs no code of its
    /// own. Settings, and prepared statements and cursors, whose queries are
    /// decided when they run; not LISTEN or NOTIFY, nor DO or CALL (a
    /// PL/pgSQL expression calls functions without the executor).
    pub runs_without_tenant: bool,
    /// Creates, changes, drops or grants roles, or changes role or database
    /// settings (ALTER ROLE … SET, which any role may do for itself).
    pub manages_roles: bool,
    /// Creates a temporary relation or type that outlives the transaction
    /// (a table not ON COMMIT DROP, a view, a sequence, a type in pg_temp),
    /// which later statements of the session find before any schema's.
    pub creates_lasting_temporary: bool,
    /// FETCH or MOVE: the plan of the cursor it reads, when the cursor
    /// exists and its query runs (not yet closed, nor held past its
    /// transaction).
    pub cursor: Option<Planned>,
    pub text: String,
}

/// Reads what parse analysis shows of `query`.
///
/// # Safety
/// `query` is an analysed Query, alive for the call.
pub(super) unsafe fn analyse(query: *mut pg_sys::Query) -> Analysed {
    let mut found = Analysed::default();
    // SAFETY: the walker only reads the tree; `found` outlives the walk.
    unsafe {
        found.has_where = has_where(query);
        found.merge_actions = merge_actions(query);
        collect_relations(query, &mut found.relations);
        pg_sys::query_tree_walker(query, Some(walk), (&raw mut found).cast::<c_void>(), 0);
    }
    sort_oids(&mut found.functions);
    sort_oids(&mut found.relations);
    found
}

/// The commands of a MERGE's WHEN clauses (parsenodes.h MergeAction).
///
/// # Safety
/// `query` is an analysed Query.
unsafe fn merge_actions(query: *mut pg_sys::Query) -> Vec<Command> {
    // SAFETY: an analysed MERGE's mergeActionList holds MergeAction nodes.
    unsafe {
        if (*query).commandType != pg_sys::CmdType::CMD_MERGE {
            return Vec::new();
        }
        let list = (*query).mergeActionList;
        let mut actions: Vec<Command> = (0..pg_sys::list_length(list))
            .filter_map(|index| {
                let action = pg_sys::list_nth(list, index).cast::<pg_sys::MergeAction>();
                writing_command((*action).commandType)
            })
            .collect();
        actions.sort_unstable_by_key(|command| command.tag());
        actions.dedup();
        actions
    }
}

/// Whether `query` is an UPDATE or DELETE with a WHERE clause of its own.
///
/// # Safety
/// `query` is an analysed Query.
unsafe fn has_where(query: *mut pg_sys::Query) -> bool {
    // SAFETY: an analysed Query's jointree is a FromExpr, or NULL.
    unsafe {
        let command = (*query).commandType;
        (command == pg_sys::CmdType::CMD_UPDATE || command == pg_sys::CmdType::CMD_DELETE)
            && !(*query).jointree.is_null()
            && !(*(*query).jointree).quals.is_null()
    }
}

/// # Safety
/// `query` is an analysed Query.
unsafe fn collect_relations(query: *mut pg_sys::Query, relations: &mut Vec<Oid>) {
    // SAFETY: every range table entry of an analysed Query is a
    // RangeTblEntry.
    unsafe {
        let rtable = (*query).rtable;
        for index in 0..pg_sys::list_length(rtable) {
            let rte = pg_sys::list_nth(rtable, index).cast::<pg_sys::RangeTblEntry>();
            if (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION {
                relations.push((*rte).relid);
            }
        }
    }
}

// Not among pgrx's bindings (catalog/partition.h); the same signature on
// PostgreSQL 15, 16 and 18.
unsafe extern "C-unwind" {
    #[link_name = "get_partition_ancestors"]
    fn partition_ancestors_of(relid: pg_sys::Oid) -> *mut pg_sys::List;
}

/// The partitioned tables `relation` is a partition of, nearest first; none
/// for a relation that is no partition.
fn partition_ancestors(relation: Oid) -> Vec<Oid> {
    // SAFETY: a syscache lookup, then a scan of pg_inherits returning a list
    // of oids (partition.c get_partition_ancestors), called through pgrx's
    // error boundary since it may raise.
    unsafe {
        if !pg_sys::get_rel_relispartition(relation) {
            return Vec::new();
        }
        let ancestors = pg_guard_ffi_boundary(|| partition_ancestors_of(relation));
        (0..pg_sys::list_length(ancestors))
            .map(|index| pg_sys::list_nth_oid(ancestors, index))
            .collect()
    }
}

/// `relation` and the role it is read as (`check_as`, or the current user),
/// when row-level security is enabled on it but that role is exempt: a
/// superuser, a BYPASSRLS role, or the owner of a table whose row security
/// is not forced (rls.c check_enable_rls, as the executor asks it).
fn bypassing_rls(relation: Oid, check_as: pg_sys::Oid) -> Option<(Oid, Oid)> {
    // SAFETY: catalogue lookups by oid (rls.c check_enable_rls, which does
    // not raise with noError; miscinit.c GetUserId).
    unsafe {
        let exempt = pg_sys::check_enable_rls(relation, check_as, true)
            == pg_sys::CheckEnableRlsResult::RLS_NONE_ENV as i32;
        exempt.then(|| {
            let role = if check_as == pg_sys::InvalidOid {
                pg_sys::GetUserId()
            } else {
                check_as
            };
            (relation, role)
        })
    }
}

/// The data-modifying statement `query` of a WITH clause.
///
/// # Safety
/// `query` is an analysed Query whose command writes, with a result
/// relation.
unsafe fn nested_write(query: *mut pg_sys::Query, command: Command) -> NestedWrite {
    // SAFETY: resultRelation indexes the query's range table (1-based).
    unsafe {
        let mut relations = Vec::new();
        collect_relations(query, &mut relations);
        sort_oids(&mut relations);
        let rte = pg_sys::list_nth((*query).rtable, (*query).resultRelation - 1)
            .cast::<pg_sys::RangeTblEntry>();
        let columns = attnums(written_columns(query_perm_infos(query), rte))
            .into_iter()
            .collect();
        NestedWrite {
            command,
            relations,
            target: (*rte).relid,
            columns,
            has_where: has_where(query),
        }
    }
}

/// The query's RTEPermissionInfo list (from 16; none on 15, where the
/// entries hold their own).
#[cfg(feature = "pg15")]
unsafe fn query_perm_infos(_query: *mut pg_sys::Query) -> *mut pg_sys::List {
    std::ptr::null_mut()
}

#[cfg(any(feature = "pg16", feature = "pg18"))]
unsafe fn query_perm_infos(query: *mut pg_sys::Query) -> *mut pg_sys::List {
    // SAFETY: a field of an analysed Query.
    unsafe { (*query).rteperminfos }
}

/// The attribute numbers (user columns only) of the inserted and updated
/// column sets.
///
/// # Safety
/// Both are NULL or bitmapsets offset by FirstLowInvalidHeapAttributeNumber.
unsafe fn attnums(sets: (*mut pg_sys::Bitmapset, *mut pg_sys::Bitmapset)) -> Vec<i16> {
    let mut columns = Vec::new();
    for set in [sets.0, sets.1] {
        let mut member = -1;
        loop {
            // SAFETY: see the function's contract.
            member = unsafe { pg_sys::bms_next_member(set, member) };
            if member < 0 {
                break;
            }
            let attnum = member + pg_sys::FirstLowInvalidHeapAttributeNumber;
            if attnum > 0 {
                columns.push(attnum as i16);
            }
        }
    }
    columns.sort_unstable();
    columns.dedup();
    columns
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn walk(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: `context` is the Analysed of analyse(); `node` a node of the
    // tree being walked, whose tag says its type.
    unsafe {
        let found = &mut *context.cast::<Analysed>();
        match (*node).type_ {
            pg_sys::NodeTag::T_Query => {
                let query = node.cast::<pg_sys::Query>();
                collect_relations(query, &mut found.relations);
                if let Some(command) = writing_command((*query).commandType) {
                    found.nested_writes.push(nested_write(query, command));
                }
                return pg_sys::query_tree_walker(query, Some(walk), context, 0);
            }
            // An implicit cast is the parser's, not a call the statement
            // writes.
            pg_sys::NodeTag::T_FuncExpr => {
                let call = node.cast::<pg_sys::FuncExpr>();
                if (*call).funcformat != pg_sys::CoercionForm::COERCE_IMPLICIT_CAST {
                    found.functions.push((*call).funcid);
                }
            }
            pg_sys::NodeTag::T_Aggref => {
                found
                    .functions
                    .push((*node.cast::<pg_sys::Aggref>()).aggfnoid);
            }
            pg_sys::NodeTag::T_WindowFunc => {
                found
                    .functions
                    .push((*node.cast::<pg_sys::WindowFunc>()).winfnoid);
            }
            _ => {}
        }
        pg_sys::expression_tree_walker(node, Some(walk), context)
    }
}

/// The command of a query that writes, or `None` for a SELECT (or other).
fn writing_command(command: pg_sys::CmdType::Type) -> Option<Command> {
    match command {
        pg_sys::CmdType::CMD_INSERT => Some(Command::Insert),
        pg_sys::CmdType::CMD_UPDATE => Some(Command::Update),
        pg_sys::CmdType::CMD_DELETE => Some(Command::Delete),
        pg_sys::CmdType::CMD_MERGE => Some(Command::Merge),
        _ => None,
    }
}

/// The analysed queries a utility statement carries and the executor runs
/// later: DECLARE CURSOR's, EXPLAIN's and CREATE TABLE AS's.
///
/// # Safety
/// `query` is an analysed Query of command CMD_UTILITY.
pub(super) unsafe fn nested_queries(query: *mut pg_sys::Query) -> Vec<*mut pg_sys::Query> {
    // SAFETY: the utility statement's tag says its type; parse analysis has
    // replaced each one's query by an analysed Query.
    unsafe {
        let statement = (*query).utilityStmt;
        if statement.is_null() {
            return Vec::new();
        }
        let inner = match (*statement).type_ {
            pg_sys::NodeTag::T_DeclareCursorStmt => {
                (*statement.cast::<pg_sys::DeclareCursorStmt>()).query
            }
            pg_sys::NodeTag::T_ExplainStmt => (*statement.cast::<pg_sys::ExplainStmt>()).query,
            pg_sys::NodeTag::T_CreateTableAsStmt => {
                (*statement.cast::<pg_sys::CreateTableAsStmt>()).query
            }
            _ => std::ptr::null_mut(),
        };
        if !inner.is_null() && (*inner).type_ == pg_sys::NodeTag::T_Query {
            vec![inner.cast::<pg_sys::Query>()]
        } else {
            Vec::new()
        }
    }
}

/// Reads the plan of a query the executor is about to start; `None` for a
/// command the executor runs without a decision of its own (none today but
/// utility statements, which reach it only through their queries).
///
/// # Safety
/// `desc` is the QueryDesc ExecutorStart() was given.
pub(super) unsafe fn planned(desc: *mut pg_sys::QueryDesc) -> Option<Planned> {
    // SAFETY: a QueryDesc with its PlannedStmt, whose range table holds
    // RangeTblEntry nodes and whose resultRelations are indexes into it.
    unsafe {
        let plan = (*desc).plannedstmt;
        let command = match (*desc).operation {
            pg_sys::CmdType::CMD_SELECT => Command::Select,
            operation => writing_command(operation)?,
        };
        let rtable = (*plan).rtable;
        // The partitions and inheritance children the planner added stand
        // for the table the statement names: each is counted as its parent.
        let mut parent_of = std::collections::HashMap::new();
        let appended = (*plan).appendRelations;
        for index in 0..pg_sys::list_length(appended) {
            let info = pg_sys::list_nth(appended, index).cast::<pg_sys::AppendRelInfo>();
            parent_of.insert((*info).child_relid, (*info).parent_relid);
        }
        let named = |mut rt_index: pg_sys::Index| {
            while let Some(parent) = parent_of.get(&rt_index) {
                rt_index = *parent;
            }
            rt_index
        };
        let entry = |rt_index: pg_sys::Index| {
            pg_sys::list_nth(rtable, rt_index as i32 - 1).cast::<pg_sys::RangeTblEntry>()
        };
        let mut relations = Vec::new();
        let mut read_bypassing_rls = None;
        for rt_index in 1..=pg_sys::list_length(rtable) as pg_sys::Index {
            let rte = entry(rt_index);
            if (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION && named(rt_index) == rt_index {
                relations.push((*rte).relid);
                if read_bypassing_rls.is_none() {
                    read_bypassing_rls =
                        bypassing_rls((*rte).relid, check_as_user(plan_perm_infos(plan), rte));
                }
            }
        }
        let mut writes = Vec::new();
        let mut columns = Vec::new();
        let results = (*plan).resultRelations;
        for index in 0..pg_sys::list_length(results) {
            let rte = entry(named(pg_sys::list_nth_int(results, index) as pg_sys::Index));
            let relid = (*rte).relid;
            writes.push(relid);
            for attnum in attnums(written_columns(plan_perm_infos(plan), rte)) {
                columns.push((relid, attnum));
            }
        }
        // A partition the statement names itself counts as its partitioned
        // tables as well, as one the planner added for them does.
        for list in [&mut relations, &mut writes] {
            let ancestors: Vec<Oid> = list
                .iter()
                .flat_map(|oid| partition_ancestors(*oid))
                .collect();
            list.extend(ancestors);
        }
        sort_oids(&mut relations);
        sort_oids(&mut writes);
        columns.sort_unstable_by_key(|(relation, attnum)| (relation.to_u32(), *attnum));
        columns.dedup();
        Some(Planned {
            command,
            query_id: query_id_of((*plan).queryId),
            relations,
            writes,
            columns,
            text: statement_text((*desc).sourceText, (*plan).stmt_location, (*plan).stmt_len),
            parameters: parameters((*desc).params),
            read_bypassing_rls,
        })
    }
}

/// The values of the bind parameters in `params`, as their types' output
/// functions write them, by number; a parameter without a type (one that
/// PL/pgSQL's fetch hook reports as not used by the statement) is left out.
/// Mirrors params.c BuildParamLogString, which gives up on a fetch hook;
/// this one asks the hook (speculative = false), as copyParamList does.
///
/// Written with output settings of their own, so that distinct values
/// never print alike, whatever the session set: under its own
/// extra_float_digits (as low as -15) 100 and 140 both print 1e+02, under
/// DateStyle 'SQL, DMY' and then 'SQL, MDY' 4 March and 3 April both print
/// 04/03/2026, and money rounds to the digits of lc_monetary; an approval of
/// one would run the other.
///
/// # Safety
/// `params` is NULL or the ParamListInfo of the plan about to run.
unsafe fn parameters(params: pg_sys::ParamListInfo) -> Vec<(i32, Option<String>)> {
    if params.is_null() {
        return Vec::new();
    }
    // In parallel mode no setting may change; no decision is made there
    // either (statements.rs refuses it).
    if super::hooks::in_parallel_mode() {
        // SAFETY: see the function's contract.
        return unsafe { parameters_as_text(params) };
    }
    // SAFETY: see the function's contract.
    let settings = [
        (c"extra_float_digits", c"3"),
        (c"DateStyle", c"ISO, YMD"),
        (c"IntervalStyle", c"iso_8601"),
        (c"lc_monetary", c"C"),
    ];
    // SAFETY: see the function's contract.
    super::guc::with_settings(&settings, || unsafe { parameters_as_text(params) })
}

/// # Safety
/// `params` is the ParamListInfo of the plan about to run.
unsafe fn parameters_as_text(params: pg_sys::ParamListInfo) -> Vec<(i32, Option<String>)> {
    let mut values = Vec::new();
    // SAFETY: numParams entries, each read directly or through the fetch
    // hook into `workspace`; output functions are called on values of the
    // type they are given with.
    unsafe {
        for number in 1..=(*params).numParams {
            let mut workspace = pg_sys::ParamExternData::default();
            let param = match (*params).paramFetch {
                Some(fetch) => {
                    pg_guard_ffi_boundary(|| fetch(params, number, false, &raw mut workspace))
                }
                None => (*params).params.as_mut_ptr().add((number - 1) as usize),
            };
            if param.is_null() || (*param).ptype == pg_sys::InvalidOid {
                continue;
            }
            let value = if (*param).isnull {
                None
            } else {
                let mut output = pg_sys::InvalidOid;
                let mut varlena = false;
                pg_sys::getTypeOutputInfo((*param).ptype, &mut output, &mut varlena);
                let text = pg_sys::OidOutputFunctionCall(output, (*param).value);
                Some(CStr::from_ptr(text).to_string_lossy().into_owned())
            };
            values.push((number, value));
        }
    }
    values
}

/// A Query's or PlannedStmt's queryId as this module hands it out: uint64
/// up to 17, int64 from 18 (the same bits).
#[cfg(any(feature = "pg15", feature = "pg16"))]
pub(super) fn query_id_of(id: u64) -> u64 {
    id
}

#[cfg(feature = "pg18")]
pub(super) fn query_id_of(id: i64) -> u64 {
    id as u64
}

/// The queryId field's value for an id of query_id_of().
#[cfg(any(feature = "pg15", feature = "pg16"))]
pub(super) fn query_id_field(id: u64) -> u64 {
    id
}

#[cfg(feature = "pg18")]
pub(super) fn query_id_field(id: u64) -> i64 {
    id as i64
}

/// The bitmapsets of columns inserted and updated in result relation `rte`,
/// whose permission info, from 16, is in `perm_infos` (a plan's permInfos or
/// a query's rteperminfos).
#[cfg(feature = "pg15")]
unsafe fn written_columns(
    _perm_infos: *mut pg_sys::List,
    rte: *mut pg_sys::RangeTblEntry,
) -> (*mut pg_sys::Bitmapset, *mut pg_sys::Bitmapset) {
    // SAFETY: on 15 a RangeTblEntry holds its own permission fields.
    unsafe { ((*rte).insertedCols, (*rte).updatedCols) }
}

#[cfg(any(feature = "pg16", feature = "pg18"))]
unsafe fn written_columns(
    perm_infos: *mut pg_sys::List,
    rte: *mut pg_sys::RangeTblEntry,
) -> (*mut pg_sys::Bitmapset, *mut pg_sys::Bitmapset) {
    // SAFETY: from 16 a result relation's entry points (1-based) into the
    // permission infos (getRTEPermissionInfo()).
    unsafe {
        let index = (*rte).perminfoindex as i32;
        if index == 0 {
            return (std::ptr::null_mut(), std::ptr::null_mut());
        }
        let info = pg_sys::list_nth(perm_infos, index - 1).cast::<pg_sys::RTEPermissionInfo>();
        ((*info).insertedCols, (*info).updatedCols)
    }
}

/// The plan's RTEPermissionInfo list (from 16; none on 15).
/// The role the executor checks `rte`'s privileges (and row-level security)
/// as: a view's owner for the relations it reads, or InvalidOid for the
/// current user.
///
/// # Safety
/// `rte` is a relation entry of a plan whose permission infos (from 16)
/// are `perm_infos`.
#[cfg(feature = "pg15")]
unsafe fn check_as_user(
    _perm_infos: *mut pg_sys::List,
    rte: *mut pg_sys::RangeTblEntry,
) -> pg_sys::Oid {
    // SAFETY: on 15 a RangeTblEntry holds its own permission fields.
    unsafe { (*rte).checkAsUser }
}

/// # Safety
/// As the 15 version.
#[cfg(any(feature = "pg16", feature = "pg18"))]
unsafe fn check_as_user(
    perm_infos: *mut pg_sys::List,
    rte: *mut pg_sys::RangeTblEntry,
) -> pg_sys::Oid {
    // SAFETY: from 16 an entry points (1-based) into the permission infos.
    unsafe {
        let index = (*rte).perminfoindex as i32;
        if index == 0 {
            return pg_sys::InvalidOid;
        }
        (*pg_sys::list_nth(perm_infos, index - 1).cast::<pg_sys::RTEPermissionInfo>()).checkAsUser
    }
}

#[cfg(feature = "pg15")]
unsafe fn plan_perm_infos(_plan: *mut pg_sys::PlannedStmt) -> *mut pg_sys::List {
    std::ptr::null_mut()
}

#[cfg(any(feature = "pg16", feature = "pg18"))]
unsafe fn plan_perm_infos(plan: *mut pg_sys::PlannedStmt) -> *mut pg_sys::List {
    // SAFETY: a field of a PlannedStmt.
    unsafe { (*plan).permInfos }
}

/// Reads a utility statement about to run.
///
/// # Safety
/// `plan` is the PlannedStmt of command CMD_UTILITY ProcessUtility() was
/// given, and `source` its query string (or NULL).
pub(super) unsafe fn utility(plan: *mut pg_sys::PlannedStmt, source: *const i8) -> Utility {
    // SAFETY: the utility statement's tag says its type.
    unsafe {
        let statement = (*plan).utilityStmt;
        let tag = CStr::from_ptr(pg_sys::GetCommandTagName(pg_sys::CreateCommandTag(
            statement,
        )))
        .to_string_lossy()
        .into_owned();
        let is_ddl = pg_sys::GetCommandLogLevel(statement) == pg_sys::LogStmtLevel::LOGSTMT_DDL;
        let copy = ((*statement).type_ == pg_sys::NodeTag::T_CopyStmt).then(|| {
            let copy = statement.cast::<pg_sys::CopyStmt>();
            (named_relation((*copy).relation), (*copy).is_from)
        });
        let runs_without_tenant = matches!(
            (*statement).type_,
            pg_sys::NodeTag::T_VariableSetStmt
                | pg_sys::NodeTag::T_VariableShowStmt
                | pg_sys::NodeTag::T_DiscardStmt
                | pg_sys::NodeTag::T_PrepareStmt
                | pg_sys::NodeTag::T_ExecuteStmt
                | pg_sys::NodeTag::T_DeallocateStmt
                | pg_sys::NodeTag::T_DeclareCursorStmt
                | pg_sys::NodeTag::T_FetchStmt
                | pg_sys::NodeTag::T_ClosePortalStmt
        );
        let truncates_hidden_rows = (*statement).type_ == pg_sys::NodeTag::T_TruncateStmt
            && truncates_hidden_rows(statement.cast::<pg_sys::TruncateStmt>());
        let creates_lasting_temporary = creates_lasting_temporary(statement);
        let manages_roles = matches!(
            (*statement).type_,
            pg_sys::NodeTag::T_CreateRoleStmt
                | pg_sys::NodeTag::T_AlterRoleStmt
                | pg_sys::NodeTag::T_AlterRoleSetStmt
                | pg_sys::NodeTag::T_DropRoleStmt
                | pg_sys::NodeTag::T_GrantRoleStmt
                | pg_sys::NodeTag::T_ReassignOwnedStmt
                | pg_sys::NodeTag::T_AlterDatabaseSetStmt
        );
        let cursor = if (*statement).type_ == pg_sys::NodeTag::T_FetchStmt {
            cursor_plan(statement.cast::<pg_sys::FetchStmt>())
        } else {
            None
        };
        Utility {
            tag,
            is_ddl,
            runs_without_tenant,
            copy,
            truncates_hidden_rows,
            creates_lasting_temporary,
            manages_roles,
            cursor,
            text: statement_text(source, (*plan).stmt_location, (*plan).stmt_len),
        }
    }
}

/// Whether `statement` creates a temporary relation or type that outlives
/// its transaction (see `Utility::creates_lasting_temporary`), or alters a
/// temporary sequence (which could free it from its table's ON COMMIT
/// DROP). It is
/// temporary by TEMP, or by the schema it is created in: the one it names,
/// or the first of search_path, which may be pg_temp (namespace.c
/// RangeVarGetCreationNamespace and QualifiedNameGetCreationNamespace, as
/// the statement itself will resolve it).
///
/// # Safety
/// `statement` is a utility statement's parse tree.
unsafe fn creates_lasting_temporary(statement: *mut pg_sys::Node) -> bool {
    // SAFETY: each node is read as the type its tag says; RangeVars and
    // name lists are those of the parse tree, resolved without a lock.
    unsafe {
        let temporary = |relation: *mut pg_sys::RangeVar| {
            !relation.is_null()
                && ((*relation).relpersistence == pg_sys::RELPERSISTENCE_TEMP as std::ffi::c_char
                    || pg_sys::isTempNamespace(pg_sys::RangeVarGetCreationNamespace(relation)))
        };
        let in_temporary_schema = |names: *mut pg_sys::List| {
            let mut name = std::ptr::null_mut();
            pg_sys::isTempNamespace(pg_sys::QualifiedNameGetCreationNamespace(names, &mut name))
        };
        let lasting = |on_commit: pg_sys::OnCommitAction::Type| {
            on_commit != pg_sys::OnCommitAction::ONCOMMIT_DROP
        };
        match (*statement).type_ {
            pg_sys::NodeTag::T_CreateStmt => {
                let create = statement.cast::<pg_sys::CreateStmt>();
                lasting((*create).oncommit) && temporary((*create).relation)
            }
            pg_sys::NodeTag::T_CreateTableAsStmt => {
                let into = (*statement.cast::<pg_sys::CreateTableAsStmt>()).into;
                !into.is_null() && lasting((*into).onCommit) && temporary((*into).rel)
            }
            pg_sys::NodeTag::T_ViewStmt => temporary((*statement.cast::<pg_sys::ViewStmt>()).view),
            pg_sys::NodeTag::T_CreateSeqStmt => {
                temporary((*statement.cast::<pg_sys::CreateSeqStmt>()).sequence)
            }
            pg_sys::NodeTag::T_CompositeTypeStmt => {
                temporary((*statement.cast::<pg_sys::CompositeTypeStmt>()).typevar)
            }
            pg_sys::NodeTag::T_CreateEnumStmt => {
                in_temporary_schema((*statement.cast::<pg_sys::CreateEnumStmt>()).typeName)
            }
            pg_sys::NodeTag::T_CreateRangeStmt => {
                in_temporary_schema((*statement.cast::<pg_sys::CreateRangeStmt>()).typeName)
            }
            pg_sys::NodeTag::T_CreateDomainStmt => {
                in_temporary_schema((*statement.cast::<pg_sys::CreateDomainStmt>()).domainname)
            }
            pg_sys::NodeTag::T_DefineStmt => {
                let define = statement.cast::<pg_sys::DefineStmt>();
                (*define).kind == pg_sys::ObjectType::OBJECT_TYPE
                    && in_temporary_schema((*define).defnames)
            }
            // ALTER SEQUENCE … OWNED BY NONE frees a temporary table's serial
            // sequence from the table, and so from its ON COMMIT DROP.
            pg_sys::NodeTag::T_AlterSeqStmt => named_relation(
                (*statement.cast::<pg_sys::AlterSeqStmt>()).sequence,
            )
            .is_some_and(|sequence| pg_sys::isTempNamespace(pg_sys::get_rel_namespace(sequence))),
            // EXPLAIN ANALYZE CREATE TABLE … AS runs the CREATE it explains.
            pg_sys::NodeTag::T_ExplainStmt => {
                let query = (*statement.cast::<pg_sys::ExplainStmt>()).query;
                !query.is_null()
                    && (*query).type_ == pg_sys::NodeTag::T_Query
                    && !(*query.cast::<pg_sys::Query>()).utilityStmt.is_null()
                    && creates_lasting_temporary((*query.cast::<pg_sys::Query>()).utilityStmt)
            }
            _ => false,
        }
    }
}

/// The plan a FETCH or MOVE reads from: that of the cursor it names, while
/// its executor runs (portalcmds.c PerformPortalFetch finds the portal the
/// same way; a missing one is left to it to report).
///
/// # Safety
/// `fetch` is a FetchStmt.
unsafe fn cursor_plan(fetch: *mut pg_sys::FetchStmt) -> Option<Planned> {
    // SAFETY: GetPortalByName returns NULL or a live portal, whose queryDesc
    // is NULL or the QueryDesc its executor runs.
    unsafe {
        let name = (*fetch).portalname;
        if name.is_null() || *name == 0 {
            return None;
        }
        let portal = pg_sys::GetPortalByName(name);
        if portal.is_null() || (*portal).queryDesc.is_null() {
            return None;
        }
        planned((*portal).queryDesc)
    }
}

/// Whether `truncate` cascades, or names a table whose rows row-level
/// security filters for the current user (rls.c check_enable_rls, as the
/// executor asks it for each relation of a query). A table that does not
/// exist is left to TRUNCATE to report.
///
/// # Safety
/// `truncate` is a TruncateStmt.
unsafe fn truncates_hidden_rows(truncate: *mut pg_sys::TruncateStmt) -> bool {
    // SAFETY: its relations are RangeVars, looked up without a lock as COPY's
    // above; check_enable_rls reads the relation's flags and policies.
    unsafe {
        if (*truncate).behavior == pg_sys::DropBehavior::DROP_CASCADE {
            return true;
        }
        let relations = (*truncate).relations;
        (0..pg_sys::list_length(relations)).any(|index| {
            named_relation(pg_sys::list_nth(relations, index).cast::<pg_sys::RangeVar>())
                .is_some_and(|relation| {
                    pg_sys::check_enable_rls(relation, pg_sys::InvalidOid, true)
                        == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32
                })
        })
    }
}

/// The relation a utility statement's parse tree names, looked up without a
/// lock, as the statement itself will look it up (namespace.c
/// RangeVarGetRelidExtended); None for NULL or a relation that does not
/// exist, which the statement reports itself.
///
/// # Safety
/// `relation` is NULL or a RangeVar of the parse tree.
unsafe fn named_relation(relation: *mut pg_sys::RangeVar) -> Option<Oid> {
    if relation.is_null() {
        return None;
    }
    // SAFETY: see the function's contract; missing_ok, so no ERROR for a
    // relation that does not exist.
    let oid = unsafe {
        pg_sys::RangeVarGetRelidExtended(
            relation,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        )
    };
    (oid != pg_sys::InvalidOid).then_some(oid)
}

/// The statement's part of `source`: from `location`, `length` bytes (0: to
/// the end), as pg_stat_statements cuts it (CleanQuerytext()).
///
/// # Safety
/// `source` is NULL or a NUL-terminated string.
unsafe fn statement_text(source: *const i8, location: i32, length: i32) -> String {
    if source.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(source) }.to_bytes();
    let start = usize::try_from(location).unwrap_or(0).min(bytes.len());
    let end = match usize::try_from(length) {
        Ok(length) if length > 0 => (start + length).min(bytes.len()),
        _ => bytes.len(),
    };
    String::from_utf8_lossy(&bytes[start..end]).into_owned()
}

/// The text of the statement the client sent that is running now, or ""
/// (a fast-path function call has none).
pub fn running_text() -> String {
    // SAFETY: debug_query_string is NULL or the NUL-terminated text of the
    // statement running now (postgres.c).
    unsafe {
        let text = pg_sys::debug_query_string;
        if text.is_null() {
            return String::new();
        }
        String::from_utf8_lossy(CStr::from_ptr(text).to_bytes()).into_owned()
    }
}

/// Whether a rule made `query`, or a query of its WITH clause (an INSTEAD or
/// ALSO rule, parsenodes.h QuerySource), as the rewriter left it.
///
/// # Safety
/// `query` is a rewritten Query.
pub(super) unsafe fn made_by_rule(query: *mut pg_sys::Query) -> bool {
    // SAFETY: a rewritten Query's cteList holds CommonTableExpr nodes whose
    // ctequery is a Query.
    unsafe {
        if matches!(
            (*query).querySource,
            pg_sys::QuerySource::QSRC_INSTEAD_RULE
                | pg_sys::QuerySource::QSRC_QUAL_INSTEAD_RULE
                | pg_sys::QuerySource::QSRC_NON_INSTEAD_RULE
        ) {
            return true;
        }
        let ctes = (*query).cteList;
        (0..pg_sys::list_length(ctes)).any(|index| {
            let cte = pg_sys::list_nth(ctes, index).cast::<pg_sys::CommonTableExpr>();
            let inner = (*cte).ctequery;
            !inner.is_null()
                && (*inner).type_ == pg_sys::NodeTag::T_Query
                && made_by_rule(inner.cast::<pg_sys::Query>())
        })
    }
}

/// Whether string literals are parsed as standard SQL reads them, with
/// backslashes as ordinary characters (standard_conforming_strings).
pub fn standard_strings() -> bool {
    // SAFETY: reads a backend-global setting.
    unsafe { pg_sys::standard_conforming_strings }
}

/// Sorts `oids` and removes repeats.
pub fn sort_oids(oids: &mut Vec<Oid>) {
    oids.sort_unstable_by_key(|oid| oid.to_u32());
    oids.dedup();
}

/// `schema.relation`, or `None` for a relation dropped meanwhile.
pub fn relation_name(relation: Oid) -> Option<String> {
    // SAFETY: syscache lookups by oid; both return palloc'd strings or NULL.
    unsafe {
        let name = pg_sys::get_rel_name(relation);
        if name.is_null() {
            return None;
        }
        let schema = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relation));
        Some(qualified(schema, name))
    }
}

/// `schema.function`, or `None` for a function dropped meanwhile.
pub fn function_name(function: Oid) -> Option<String> {
    // SAFETY: as relation_name.
    unsafe {
        let name = pg_sys::get_func_name(function);
        if name.is_null() {
            return None;
        }
        let schema = pg_sys::get_namespace_name(pg_sys::get_func_namespace(function));
        Some(qualified(schema, name))
    }
}

/// The name of column `attnum` of `relation`, or `None`.
pub fn column_name(relation: Oid, attnum: i16) -> Option<String> {
    // SAFETY: a syscache lookup; NULL when missing (missing_ok).
    unsafe {
        let name = pg_sys::get_attname(relation, attnum, true);
        (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

/// # Safety
/// `name` is a C string; `schema` one or NULL.
unsafe fn qualified(schema: *const i8, name: *const i8) -> String {
    // SAFETY: C strings from the syscache.
    unsafe {
        let name = CStr::from_ptr(name).to_string_lossy();
        if schema.is_null() {
            return name.into_owned();
        }
        format!("{}.{name}", CStr::from_ptr(schema).to_string_lossy())
    }
}

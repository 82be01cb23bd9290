//! Tools: typed handlers whose input schema is derived from the argument type.

use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use plugwire_proto::pb;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{ToolError, ToolErrorKind};
use crate::handle::{PluginHandle, json_pointer_of};
use plugwire_proto::text::json_kind;

type Handler =
    Arc<dyn Fn(Value, ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> + Send + Sync>;

/// One tool: its declaration (name, description, schemas, annotations) and
/// its handler.
///
/// ```
/// use plugwire_sdk::{Tool, ToolContext, ToolError};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// /// Arguments of `add`.
/// #[derive(Deserialize, JsonSchema)]
/// struct AddArgs {
///     /// First addend.
///     a: i64,
///     /// Second addend.
///     b: i64,
/// }
///
/// let add = Tool::new("add", "Adds two integers", |args: AddArgs, _cx: ToolContext| async move {
///     args.a.checked_add(args.b).ok_or_else(|| ToolError::new("overflow"))
/// })
/// .read_only()
/// .idempotent();
/// assert_eq!(add.name(), "add");
/// assert!(add.input_schema()["required"].as_array().unwrap().len() == 2);
/// ```
#[derive(Clone)]
pub struct Tool {
    pub(crate) decl: pb::Tool,
    pub(crate) input_schema: Arc<Value>,
    /// Compiled on the first call, not at start: compiling (and the
    /// meta-schema check that comes with it) was half of a plugin's start.
    pub(crate) validator: Arc<std::sync::OnceLock<jsonschema::Validator>>,
    pub(crate) handler: Handler,
}

impl Tool {
    /// A tool whose arguments are the JSON form of `A`. The input schema is
    /// derived from `A` with `schemars`; arguments are checked against it and
    /// then deserialized, and a mismatch is `INVALID_ARGUMENT` naming the
    /// field (PW-TOOL-5). The handler's `Ok` value is the result content;
    /// its `Err` is a tool failure (`is_error`) or a status (see
    /// [`ToolError`]).
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Args { name: String }
    /// let greet = Tool::new("greet", "Greets someone", |a: Args, _cx: ToolContext| async move {
    ///     Ok::<_, ToolError>(format!("hello, {}", a.name))
    /// });
    /// # let _ = greet;
    /// ```
    pub fn new<A, O, F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        handler: F,
    ) -> Self
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        O: Serialize + 'static,
        F: Fn(A, ToolContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    {
        let schema = serde_json::to_value(schemars::schema_for!(A))
            .unwrap_or_else(|_| serde_json::json!({"type": "object"}));
        let handler = Arc::new(handler);
        Self::from_parts(
            name.into(),
            description.into(),
            schema,
            Arc::new(move |args: Value, cx: ToolContext| {
                let handler = handler.clone();
                Box::pin(async move {
                    let typed: A = serde_path_to_error::deserialize(&args).map_err(|e| {
                        ToolError::invalid_argument(&json_pointer_of(e.path()), e.inner())
                    })?;
                    let output = handler(typed, cx).await?;
                    serde_json::to_value(output).map_err(|e| {
                        ToolError::status(tonic::Status::internal(format!(
                            "the tool's result could not be encoded as JSON: {e}"
                        )))
                    })
                }) as BoxFuture<'static, _>
            }),
        )
    }

    /// A tool taking raw JSON arguments checked against a hand-written
    /// schema. Prefer [`Tool::new`]; this exists for schemas a Rust type
    /// cannot express and for generic adapters.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// let schema = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]});
    /// let t = Tool::raw("square", "Squares n", schema, |args, _cx: ToolContext| async move {
    ///     let n = args["n"].as_i64().unwrap_or(0);
    ///     Ok(serde_json::json!(n * n))
    /// })?;
    /// # Ok::<(), String>(())
    /// ```
    pub fn raw<F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        handler: F,
    ) -> Result<Self, String>
    where
        F: Fn(Value, ToolContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ToolError>> + Send + 'static,
    {
        if input_schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err("a tool's input schema must have \"type\": \"object\" at its root".into());
        }
        // A hand-written schema is checked now, so a bad one fails at once.
        let validator = jsonschema::validator_for(&input_schema)
            .map_err(|e| format!("the input schema is not a valid JSON Schema: {e}"))?;
        let handler = Arc::new(handler);
        let tool = Self::from_parts(
            name.into(),
            description.into(),
            input_schema,
            Arc::new(move |args, cx| Box::pin(handler(args, cx)) as BoxFuture<'static, _>),
        );
        let _ = tool.validator.set(validator);
        Ok(tool)
    }

    fn from_parts(name: String, description: String, schema: Value, handler: Handler) -> Self {
        Self {
            decl: pb::Tool {
                name,
                description,
                input_schema_json: schema.to_string(),
                output_schema_json: String::new(),
                annotations: Some(pb::ToolAnnotations::default()),
            },
            input_schema: Arc::new(schema),
            validator: Arc::new(std::sync::OnceLock::new()),
            handler,
        }
    }

    fn check_schema(&self, args: &Value) -> Result<(), tonic::Status> {
        let validator = self.validator.get_or_init(|| {
            // A schema that fails to compile would be a schemars bug; fall
            // back to accepting any object rather than refusing the call.
            jsonschema::validator_for(&self.input_schema).unwrap_or_else(|_| {
                jsonschema::validator_for(&serde_json::json!({"type": "object"}))
                    .expect("the trivial object schema compiles")
            })
        });
        match first_schema_error(validator, args) {
            Some(problem) => Err(tonic::Status::invalid_argument(problem)),
            None => Ok(()),
        }
    }

    /// Declares the schema of successful results, derived from `O`.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// struct Count { words: u64 }
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Args { text: String }
    /// let t = Tool::new("count", "Counts words", |a: Args, _cx: ToolContext| async move {
    ///     Ok::<_, ToolError>(Count { words: a.text.split_whitespace().count() as u64 })
    /// }).output::<Count>();
    /// assert!(!t.declaration().output_schema_json.is_empty());
    /// ```
    pub fn output<O: JsonSchema>(mut self) -> Self {
        self.decl.output_schema_json = serde_json::to_value(schemars::schema_for!(O))
            .map(|v| v.to_string())
            .unwrap_or_default();
        self
    }

    /// Declares the schema of successful results as written, for schemas
    /// that come from elsewhere (an adapter's); prefer [`Tool::output`].
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext};
    /// let t = Tool::raw("now", "The time", serde_json::json!({"type": "object"}), |_, _cx: ToolContext| async {
    ///     Ok(serde_json::json!({"time": "12:00"}))
    /// })?
    /// .output_schema(&serde_json::json!({"type": "object", "properties": {"time": {"type": "string"}}}));
    /// assert!(t.declaration().output_schema_json.contains("\"time\""));
    /// # Ok::<(), String>(())
    /// ```
    pub fn output_schema(mut self, schema: &Value) -> Self {
        self.decl.output_schema_json = schema.to_string();
        self
    }

    /// Hint: the tool does not change its environment.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct A {}
    /// let t = Tool::new("t", "d", |_: A, _cx: ToolContext| async { Ok::<_, ToolError>(()) }).read_only();
    /// assert!(t.declaration().annotations.unwrap().read_only);
    /// ```
    pub fn read_only(mut self) -> Self {
        self.annotations().read_only = true;
        self
    }

    /// Hint: the tool may destroy or overwrite data.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct A {}
    /// let t = Tool::new("t", "d", |_: A, _cx: ToolContext| async { Ok::<_, ToolError>(()) }).destructive();
    /// assert!(t.declaration().annotations.unwrap().destructive);
    /// ```
    pub fn destructive(mut self) -> Self {
        self.annotations().destructive = true;
        self
    }

    /// Hint: repeating a call with the same arguments has no further effect.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct A {}
    /// let t = Tool::new("t", "d", |_: A, _cx: ToolContext| async { Ok::<_, ToolError>(()) }).idempotent();
    /// assert!(t.declaration().annotations.unwrap().idempotent);
    /// ```
    pub fn idempotent(mut self) -> Self {
        self.annotations().idempotent = true;
        self
    }

    /// Hint: the tool talks to systems outside the host.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct A {}
    /// let t = Tool::new("t", "d", |_: A, _cx: ToolContext| async { Ok::<_, ToolError>(()) }).open_world();
    /// assert!(t.declaration().annotations.unwrap().open_world);
    /// ```
    pub fn open_world(mut self) -> Self {
        self.annotations().open_world = true;
        self
    }

    fn annotations(&mut self) -> &mut pb::ToolAnnotations {
        self.decl.annotations.get_or_insert_with(Default::default)
    }

    /// The tool's name.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct A {}
    /// let t = Tool::new("t", "d", |_: A, _cx: ToolContext| async { Ok::<_, ToolError>(()) });
    /// assert_eq!(t.name(), "t");
    /// ```
    pub fn name(&self) -> &str {
        &self.decl.name
    }

    /// The input JSON Schema.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct A {}
    /// let t = Tool::new("t", "d", |_: A, _cx: ToolContext| async { Ok::<_, ToolError>(()) });
    /// assert_eq!(t.input_schema()["type"], "object");
    /// ```
    pub fn input_schema(&self) -> &Value {
        &self.input_schema
    }

    /// The declaration as sent in `ListTools`.
    ///
    /// ```
    /// # use plugwire_sdk::{Tool, ToolContext, ToolError};
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct A {}
    /// let t = Tool::new("t", "does t", |_: A, _cx: ToolContext| async { Ok::<_, ToolError>(()) });
    /// assert_eq!(t.declaration().description, "does t");
    /// ```
    pub fn declaration(&self) -> pb::Tool {
        self.decl.clone()
    }

    /// Validates and runs the tool: the protocol checks of PW-TOOL-5 and
    /// PW-TOOL-6 live here, so every transport behaves the same. When the
    /// host has already checked the arguments against this schema
    /// (`validated`, PW-TOOL-16) the schema check is skipped: a plugin that
    /// only the host calls then never compiles a validator, which is most
    /// of its first call's cost. Typed tools still deserialize, so a bad
    /// field remains `INVALID_ARGUMENT`.
    pub(crate) async fn invoke(
        &self,
        arguments_json: &str,
        validated: bool,
        cx: ToolContext,
    ) -> Result<pb::ToolResult, tonic::Status> {
        // PW-TOOL-15: no arguments at all are the empty object.
        let arguments_json = if arguments_json.trim().is_empty() {
            "{}"
        } else {
            arguments_json
        };
        let args: Value = serde_json::from_str(arguments_json).map_err(|e| {
            tonic::Status::invalid_argument(format!(
                "arguments: expected a JSON object, the text is not JSON: {e}"
            ))
        })?;
        if !args.is_object() {
            return Err(tonic::Status::invalid_argument(format!(
                "arguments: expected a JSON object, saw {}",
                json_kind(&args)
            )));
        }
        if !validated {
            self.check_schema(&args)?;
        }
        match (self.handler)(args, cx).await {
            Ok(content) => Ok(pb::ToolResult {
                is_error: false,
                content_json: content.to_string(),
            }),
            Err(ToolError {
                kind: ToolErrorKind::Failure(content),
            }) => Ok(pb::ToolResult {
                is_error: true,
                content_json: content.to_string(),
            }),
            Err(ToolError {
                kind: ToolErrorKind::Status(status),
            }) => Err(status),
        }
    }
}

/// Describes the first schema violation as `arguments <pointer>: <problem>`,
/// mentioning how many more there are.
pub(crate) fn first_schema_error(
    validator: &jsonschema::Validator,
    args: &Value,
) -> Option<String> {
    let mut errors = validator.iter_errors(args);
    let first = errors.next()?;
    let more = errors.count();
    let missing = match first.kind() {
        jsonschema::error::ValidationErrorKind::Required { property } => property.as_str(),
        _ => None,
    };
    let pointer =
        plugwire_proto::problem::field_pointer(&first.instance_path().to_string(), missing);
    let suffix = if more > 0 {
        format!(" (and {more} more problem(s))")
    } else {
        String::new()
    };
    Some(plugwire_proto::problem::located(
        "arguments",
        &pointer,
        format!("{first}{suffix}"),
    ))
}

/// What a running tool can see and do: report progress, notice
/// cancellation, and reach the plugin's configuration and the host (through
/// [`PluginHandle`], which this dereferences to).
///
/// ```
/// use plugwire_sdk::{ToolContext, ToolError};
///
/// async fn crunch(cx: ToolContext) -> Result<u32, ToolError> {
///     for step in 1..=10u32 {
///         if cx.is_cancelled() {
///             return Err(ToolError::new("cancelled"));
///         }
///         cx.progress(step as f64, Some(10.0), format!("step {step}")).await;
///     }
///     Ok(10)
/// }
/// ```
#[derive(Clone)]
pub struct ToolContext {
    pub(crate) plugin: PluginHandle,
    pub(crate) cancel: CancellationToken,
    pub(crate) progress: Option<mpsc::Sender<pb::ToolProgress>>,
    pub(crate) last_progress: Arc<Mutex<Option<f64>>>,
    pub(crate) depth: u32,
    /// The chain id the host gave this call, echoed on host calls.
    pub(crate) chain: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl ToolContext {
    pub(crate) fn new(
        plugin: PluginHandle,
        cancel: CancellationToken,
        progress: Option<mpsc::Sender<pb::ToolProgress>>,
    ) -> Self {
        Self {
            plugin,
            cancel,
            progress,
            last_progress: Arc::new(Mutex::new(None)),
            depth: 0,
            chain: None,
        }
    }

    /// The host client, acting for this call: tool calls made through it
    /// count towards the call-depth limit (PW-HOST-6), which stops loops.
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// async fn delegate(cx: &ToolContext) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    ///     cx.host()?.call_tool("other.tool", serde_json::json!({})).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn host(&self) -> Result<crate::HostClient, crate::HostUnavailable> {
        self.plugin
            .host()
            .map(|h| h.for_call(self.depth, self.chain.clone()))
    }

    /// Reports progress. Values must increase (PW-TOOL-11); a value not above
    /// the previous one is dropped. Does nothing when the caller did not ask
    /// for progress (a unary call). Returns whether the report was sent.
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// async fn step(cx: &ToolContext) {
    ///     cx.progress(0.5, Some(1.0), "halfway").await;
    /// }
    /// ```
    pub async fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: impl Into<String>,
    ) -> bool {
        let Some(sender) = &self.progress else {
            return false;
        };
        {
            let mut last = self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
            if !progress.is_finite() || last.is_some_and(|l| progress <= l) {
                return false;
            }
            *last = Some(progress);
        }
        let total = total.filter(|t| t.is_finite()).map(|t| t.max(progress));
        sender
            .send(pb::ToolProgress {
                progress,
                total,
                message: message.into(),
            })
            .await
            .is_ok()
    }

    /// Whether the caller asked for progress (a streamed call), so that
    /// work done only to report it can be skipped otherwise.
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// async fn step(cx: &ToolContext, done: f64) {
    ///     if cx.reports_progress() {
    ///         cx.progress(done, None, format!("{done} done")).await;
    ///     }
    /// }
    /// ```
    pub fn reports_progress(&self) -> bool {
        self.progress.is_some()
    }

    /// Resolves when the call is cancelled: the client cancelled, its
    /// deadline passed, or the plugin is shutting down (PW-TOOL-8).
    ///
    /// ```
    /// # use plugwire_sdk::{ToolContext, ToolError};
    /// async fn wait_or_cancel(cx: ToolContext) -> Result<(), ToolError> {
    ///     tokio::select! {
    ///         _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => Ok(()),
    ///         _ = cx.cancelled() => Err(ToolError::new("cancelled")),
    ///     }
    /// }
    /// ```
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Whether the call has been cancelled, for loops that poll.
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// fn keep_going(cx: &ToolContext) -> bool { !cx.is_cancelled() }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// A token cancelled with the call, to hand to spawned work.
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// fn spawn_work(cx: &ToolContext) {
    ///     let token = cx.cancellation_token();
    ///     std::thread::spawn(move || while !token.is_cancelled() { /* work */ break; });
    /// }
    /// ```
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

impl Deref for ToolContext {
    type Target = PluginHandle;

    fn deref(&self) -> &PluginHandle {
        &self.plugin
    }
}

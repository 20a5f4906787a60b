"""initialize / initialized / configuration changes / shutdown."""

from __future__ import annotations

from lsprotocol import types
from prochemy.optimizer.llm.llama_server import stop_all

from .app import ProchemyServer, log
from .watching import register_watchers


def register(server: ProchemyServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: ProchemyServer, params: types.InitializeParams) -> None:
        ls.set_options(params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: ProchemyServer, params: types.InitializedParams) -> None:
        await register_watchers(ls)
        ls.check_sandbox()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def changed(ls: ProchemyServer, params: types.DidChangeConfigurationParams) -> None:
        settings = (
            params.settings.get("prochemy", params.settings) if isinstance(params.settings, dict) else None
        )
        workspace = ls.client_capabilities.workspace
        if workspace and workspace.configuration:  # pull: the client's view is the truth
            pulled = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="prochemy")])
            )
            log.info("pulled configuration: %r", pulled)
            settings = pulled[0] if pulled and isinstance(pulled[0], dict) else settings
        ls.set_options(settings)
        ls.check_sandbox()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: ProchemyServer, params: None) -> None:
        await ls.jobs.shutdown()
        stop_all()  # an embedded llama-server this process started

import ToolSupport

ToolMain.run { args, console in try PerplexityCommand.run(args, console: console) }

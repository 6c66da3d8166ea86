import ToolSupport

ToolMain.run { args, console in try QuantizeCommand.run(args, console: console) }

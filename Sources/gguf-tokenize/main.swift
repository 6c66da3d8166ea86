import ToolSupport

ToolMain.run { args, console in try TokenizeCommand.run(args, console: console) }

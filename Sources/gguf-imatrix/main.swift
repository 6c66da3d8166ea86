import ToolSupport

ToolMain.run { args, console in try ImatrixCommand.run(args, console: console) }

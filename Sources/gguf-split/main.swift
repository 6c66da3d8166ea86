import ToolSupport

ToolMain.run { args, console in try SplitCommand.run(args, console: console) }

import ToolSupport

ToolMain.run { args, console in try SweepCommand.run(args, console: console) }

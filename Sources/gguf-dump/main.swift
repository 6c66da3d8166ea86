import ToolSupport

ToolMain.run { args, console in try DumpCommand.run(args, console: console) }

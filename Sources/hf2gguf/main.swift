import ToolSupport

ToolMain.run { args, console in try ConvertCommand.run(args, console: console) }

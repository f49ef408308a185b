namespace Vicreg.Commands;

/// <summary>One `vicreg &lt;name&gt;` command. Run reads its flags from <see cref="Arguments"/>, and when
/// help was asked for, returns after printing <see cref="Arguments.Usage"/> instead of working.</summary>
public interface ICommand
{
    string Name { get; }
    string Summary { get; }
    int Run(Arguments args, string commandLine);
}

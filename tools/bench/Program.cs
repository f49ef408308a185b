namespace Vicreg.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine("benchmarks are being written");
        return 0;
    }
}
